import { randomUUID } from 'node:crypto';
import { copyFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type ChromiumSession,
  describeWithoutChromium,
  hasChromium,
  launchChromium,
  MISSING_CHROMIUM,
  saveScreenshot,
} from './support/chromium.js';
import { type ChaosSwitches, serverPayments, serverRefusals, setChaos } from './support/exampleApi.js';
import { type ExampleProcess, ROOT_DIR, startExampleProcess } from './support/exampleProcess.js';

// The example in a real browser: the example as `npm start` runs it (the start script, demo and production
// mode), Debian's Chromium through playwright-core. One server and one browser for the whole file; the
// tests run in order and share the server's ledger. Without Chromium a developer gets a skip with the
// install command; CI gets a failure. Every test saves a screenshot under test-output/example/.

const WAIT = { timeout: 20_000 };
/** Generous: the whole suite shares two cores with every other test file. */
const TEST_TIMEOUT_MS = 60_000;

const onCI = process.env.CI === 'true';
if (!hasChromium && !onCI) console.warn(MISSING_CHROMIUM);

describeWithoutChromium('the example in a browser');

/** Waits until the page has an answer and no attempt of any call is still in flight. */
async function settled(page: Page): Promise<void> {
  await page.getByTestId('answer').or(page.getByTestId('answer-error')).first().waitFor(WAIT);
  await expect.poll(() => page.locator('[data-testid="attempt"][data-outcome="started"]').count(), WAIT).toBe(0);
  await expect.poll(() => page.getByTestId('pay').getAttribute('aria-busy'), WAIT).toBe('false');
}

const intentKey = (page: Page) => page.getByTestId('intent-key').getAttribute('data-key');
const ledgerKeys = (page: Page) =>
  page.getByTestId('ledger-row').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-key')));
const focusedTestId = (page: Page) => page.evaluate(() => document.activeElement?.getAttribute('data-testid'));

/** Flips a chaos switch on the page and waits until the server's answer shows it. */
async function flip(page: Page, testId: string, on: boolean): Promise<void> {
  if ((await page.getByTestId(testId).isChecked()) !== on) await page.getByTestId(testId).click();
  await expect.poll(() => page.getByTestId(testId).isChecked(), WAIT).toBe(on);
}

describe.skipIf(!hasChromium)('the example in a browser', () => {
  let server: ExampleProcess;
  let chromium: ChromiumSession;
  let page: Page;
  const pageErrors: string[] = [];
  const calm = (switches: Partial<ChaosSwitches> = {}) => setChaos(server.url, switches);

  beforeAll(async () => {
    const [started, launched] = await Promise.allSettled([startExampleProcess(), launchChromium()]);
    // Keep whichever came up, so afterAll stops it even when the other failed.
    if (started.status === 'fulfilled') server = started.value;
    if (launched.status === 'fulfilled') chromium = launched.value;
    if (started.status === 'rejected') throw started.reason;
    if (launched.status === 'rejected') throw launched.reason;
    // Uncaught errors in any tab fail the test that was running.
    chromium.context.on('page', (tab) => tab.on('pageerror', (error) => pageErrors.push(error.message)));
    page = await chromium.context.newPage();
    await page.goto(server.url);
  }, 180_000);

  afterEach(() => {
    const errors = pageErrors.splice(0);
    expect(errors).toEqual([]);
  });

  afterAll(async () => {
    await chromium?.close();
    await server?.stop();
  });

  it(
    'makes one payment from a double click while every fresh answer is dropped, and says the answer was recovered',
    async () => {
      await flip(page, 'chaos-drop', true);
      const key = await intentKey(page);
      expect(key).toMatch(/^[0-9a-f-]{36}$/);

      await page.getByTestId('pay').dblclick();
      await settled(page);

      await expect.poll(() => ledgerKeys(page), WAIT).toEqual([key]);
      expect((await serverPayments(server.url)).map((payment) => payment.key)).toEqual([key]);
      // The two clicks are one call in the timeline: its tries, all with the one key.
      const call = page.locator(`[data-testid="call"][data-key="${key}"]`);
      expect(await call.count()).toBe(1);
      expect(await call.getByTestId('call-clicks').textContent()).toContain('2 clicks');
      const outcomes = await call
        .getByTestId('attempt')
        .evaluateAll((rows) => rows.map((row) => row.getAttribute('data-outcome')));
      expect(outcomes).toEqual(['retrying', 'succeeded']);
      // The first answer was cut off: the page says the payment went through and its answer was recovered.
      const answer = page.getByTestId('answer');
      expect(await answer.textContent()).toContain(
        'Your payment went through; the answer was lost and has been recovered.',
      );
      // The badge explains itself on hover and on keyboard focus.
      const badge = page.getByTestId('answer-replayed');
      const explanation = page.locator(`[id="${await badge.getAttribute('aria-describedby')}"]`);
      expect(await explanation.isVisible()).toBe(false);
      await badge.hover();
      await expect.poll(() => explanation.isVisible(), WAIT).toBe(true);
      expect(await explanation.textContent()).toContain('No new charge');
      await page.mouse.move(0, 0);
      await badge.focus();
      await page.keyboard.press('Shift+Tab');
      await page.keyboard.press('Tab');
      await expect.poll(() => explanation.isVisible(), WAIT).toBe(true);
      // A success starts a new intent.
      expect(await intentKey(page)).not.toBe(key);
      await saveScreenshot(page, 'double-click-answer-recovered');
      await calm({ dropResponseAfterCommit: false });
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'makes one payment when two tabs pay the same intent at once, and only the other tab says replayed',
    async () => {
      const before = await serverPayments(server.url);
      const tabs = [await chromium.context.newPage(), await chromium.context.newPage()];
      await Promise.all(tabs.map((tab) => tab.goto(server.url)));
      const [keyA, keyB] = await Promise.all(tabs.map(intentKey));
      // The intent's key lives in localStorage, so both tabs hold the same one.
      expect(keyA).toBeTruthy();
      expect(keyB).toBe(keyA);

      // "At once": the second click must land while the first payment is in flight (a click after it
      // succeeded is the next intent, in every tab). So the server delays payments a little, and the clicks are
      // dispatched rather than clicked: Playwright's click waits for animation frames, which a background tab
      // gets about once a second.
      await setChaos(server.url, { delayMs: 500 });
      try {
        await Promise.all(tabs.map((tab) => tab.getByTestId('pay').dispatchEvent('click')));
        await Promise.all(tabs.map(settled));
      } finally {
        await setChaos(server.url, { delayMs: 0 });
      }

      const after = await serverPayments(server.url);
      expect(after).toHaveLength(before.length + 1);
      expect(after.filter((payment) => payment.key === keyA)).toHaveLength(1);
      let replayed = 0;
      for (const tab of tabs) {
        expect(await tab.getByTestId('answer-error').count()).toBe(0);
        await expect.poll(() => ledgerKeys(tab).then((keys) => keys.filter((k) => k === keyA)), WAIT).toEqual([keyA]);
        const answer = await tab.getByTestId('answer').getAttribute('data-payment-id');
        expect(answer).toBe(after.find((payment) => payment.key === keyA)!.id);
        replayed += await tab.getByTestId('answer-replayed').count();
      }
      // The tab whose request ran the payment says so; the other got the stored answer.
      expect(replayed).toBe(1);
      await saveScreenshot(tabs[0]!, 'two-tabs');
      for (const tab of tabs) await tab.close();
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'shows a payment made with curl through the tRPC HTTP API in the ledger',
    async () => {
      const key = `curl-${randomUUID()}`;
      // What the README's curl command sends.
      const response = await fetch(`${server.url}/trpc/payments.create`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'Idempotency-Key': key },
        body: JSON.stringify({ json: { amount: 1250, currency: 'USD', note: 'paid with curl' } }),
      });
      expect(response.status).toBe(200);
      await page.locator(`[data-testid="ledger-row"][data-key="${key}"]`).waitFor(WAIT);
      expect(await ledgerKeys(page)).toHaveLength(3);
      await saveScreenshot(page, 'curl-payment-in-ledger');
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'shows the server’s message under the amount it refused, charges nothing, and pays once when it is fixed',
    async () => {
      // The two tabs above paid the intent this tab still holds in memory: a reload reads the current one.
      await page.reload();
      const key = await intentKey(page);
      await page.getByTestId('amount').fill('25000');
      await page.getByTestId('pay').click();

      const fieldError = page.getByTestId('amount-error');
      await fieldError.waitFor(WAIT);
      expect(await fieldError.textContent()).toBe('A single payment can be at most 10,000.00.');
      expect(await page.getByTestId('amount').getAttribute('aria-invalid')).toBe('true');
      const refused = (await page.getByTestId('answer-error').textContent())!;
      expect(refused).toContain('Nothing was charged');
      expect(refused).not.toMatch(/[{[]|"code"|too_big/);
      expect((await serverPayments(server.url)).filter((payment) => payment.key === key)).toEqual([]);
      await saveScreenshot(page, 'amount-refused');

      // Same intent, fixed amount: the refused input left the key unused, so it pays, once.
      expect(await intentKey(page)).toBe(key);
      await page.getByTestId('amount').fill('25');
      // Its message and "check the highlighted field" go as soon as the field is changed.
      expect(await fieldError.count()).toBe(0);
      expect(await page.getByTestId('answer-error').count()).toBe(0);
      await page.getByTestId('pay').click();
      await page.getByTestId('answer').waitFor(WAIT);
      const mine = (await serverPayments(server.url)).filter((payment) => payment.key === key);
      expect(mine.map((payment) => payment.amount)).toEqual([2500]);
      expect(await page.getByTestId('answer').getAttribute('data-payment-id')).toBe(mine[0]!.id);
    },
    TEST_TIMEOUT_MS,
  );

  it('refuses the late write of a handler paused past its lease, pays once through the retry, and shows the refusal', async () => {
    await flip(page, 'chaos-pause', true);
    try {
      const key = await intentKey(page);
      await page.getByTestId('pay').click();
      // The first try waits for its answer until the client's 10 s attempt timeout; the retry takes over.
      await page.getByTestId('answer').waitFor({ timeout: 45_000 });
      const refusedRow = page.locator(`[data-testid="refused-write"][data-key="${key}"]`);
      await refusedRow.waitFor({ timeout: 45_000 });

      const mine = (await serverPayments(server.url)).filter((payment) => payment.key === key);
      expect(mine).toHaveLength(1);
      const refusals = (await serverRefusals(server.url)).filter((write) => write.key === key);
      expect(refusals).toHaveLength(1);
      expect(refusals[0]!.fence).toBeLessThan(mine[0]!.fence);
      expect(refusals[0]!.newestFence).toBe(mine[0]!.fence);
      expect(await refusedRow.getAttribute('data-fence')).toBe(String(refusals[0]!.fence));
      expect(await refusedRow.textContent()).toContain('Nothing was charged twice');

      // The click's own story says the same: the first try got no answer, the retry paid, the late write was refused.
      const call = page.locator(`[data-testid="call"][data-key="${key}"]`);
      expect(await call.getByTestId('attempt').first().textContent()).toContain('No answer in time');
      await call.getByTestId('call-refused').waitFor(WAIT);
      expect(await page.getByTestId('answer').textContent()).toContain('once');
      await saveScreenshot(page, 'paused-handler-write-refused');
    } finally {
      await flip(page, 'chaos-pause', false);
    }
  }, 90_000);

  it(
    'takes a payment from the keyboard alone, with the focus always visible',
    async () => {
      const tab = await chromium.context.newPage();
      await tab.goto(server.url);
      await tab.getByTestId('pay').waitFor(WAIT);
      for (let presses = 0; (await focusedTestId(tab)) !== 'amount'; presses++) {
        expect(presses, 'Tab reaches the amount').toBeLessThan(10);
        await tab.keyboard.press('Tab');
      }
      await tab.keyboard.press('Control+A');
      await tab.keyboard.type('12.50');
      await tab.keyboard.press('Tab');
      expect(await focusedTestId(tab)).toBe('currency');
      await tab.keyboard.press('ArrowDown');
      expect(await tab.getByTestId('currency').inputValue()).toBe('USD');
      await tab.keyboard.press('Tab');
      expect(await focusedTestId(tab)).toBe('note');
      await tab.keyboard.press('Control+A');
      await tab.keyboard.type('Paid with the keyboard');
      for (let presses = 0; (await focusedTestId(tab)) !== 'pay'; presses++) {
        expect(presses, 'Tab reaches Pay').toBeLessThan(4);
        await tab.keyboard.press('Tab');
      }
      expect(await tab.getByTestId('pay').textContent()).toBe('Pay $12.50');
      const outline = await tab.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle);
      expect(outline).not.toBe('none');
      await tab.keyboard.press('Enter');

      await tab.getByTestId('answer').waitFor(WAIT);
      // The answer is announced: it sits in a live status region.
      expect(await tab.getByRole('status').filter({ hasText: 'Paid $12.50.' }).count()).toBe(1);
      const id = await tab.getByTestId('answer').getAttribute('data-payment-id');
      const payment = (await serverPayments(server.url)).find((each) => each.id === id);
      expect(payment).toMatchObject({ amount: 1250, currency: 'USD', note: 'Paid with the keyboard' });
      await saveScreenshot(tab, 'keyboard-payment');
      await tab.close();
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'fits a 390 px phone without sideways scrolling, messages and ledger included (and 360 px)',
    async () => {
      const tab = await chromium.context.newPage();
      await tab.setViewportSize({ width: 390, height: 844 });
      await tab.goto(server.url);
      // The page as a shopper on a phone sees it: a refused amount, then a payment with a long note.
      await tab.getByTestId('amount').fill('99999');
      await tab.getByTestId('pay').click();
      await tab.getByTestId('amount-error').waitFor(WAIT);
      await tab.getByTestId('amount').fill('9.99');
      await tab
        .getByTestId('note')
        .fill(`A long note: ${'decaf beans, oat milk, paper filters; '.repeat(4)}`.slice(0, 140));
      await tab.getByTestId('pay').click();
      await tab.getByTestId('answer').waitFor(WAIT);
      await tab.getByTestId('ledger-row').first().waitFor(WAIT);
      await tab.getByTestId('refused-write').first().waitFor(WAIT);

      const scrollWidth = () => tab.evaluate(() => document.documentElement.scrollWidth);
      expect(await scrollWidth()).toBeLessThanOrEqual(390);
      // Every control sits inside the screen.
      for (const testId of [
        'amount',
        'currency',
        'note',
        'pay',
        'chaos-offline',
        'chaos-drop',
        'chaos-pause',
        'timeline',
      ]) {
        const box = (await tab.getByTestId(testId).boundingBox())!;
        expect(box.x + box.width, testId).toBeLessThanOrEqual(390);
      }
      await saveScreenshot(tab, 'phone-390px');
      await tab.setViewportSize({ width: 360, height: 780 });
      expect(await scrollWidth()).toBeLessThanOrEqual(360);
      await tab.close();
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'holds a payment made offline through a reload, says it waits for the network, and pays it once with its key when back online',
    async () => {
      const tab = await chromium.context.newPage();
      await tab.goto(server.url);
      await tab.getByTestId('pay').waitFor(WAIT);
      const state = (name: 'status' | 'paused' | 'resumed' | 'key') =>
        tab.getByTestId('payment').getAttribute(`data-${name}`);
      const before = await serverPayments(server.url);
      const key = await intentKey(tab);

      // "Go offline" is this tab's own: its requests fail as a lost network does, and TanStack Query pauses.
      await flip(tab, 'chaos-offline', true);
      await tab.getByTestId('pay').click();
      await expect.poll(() => state('paused'), WAIT).toBe('true');
      expect(await state('key')).toBe(key);
      expect(await tab.getByTestId('answer-pending').textContent()).toContain(
        'Waiting for the network — this payment will be sent, once, when you are back online.',
      );
      expect(await tab.getByTestId('pay').textContent()).toBe('Waiting for the network…');

      // A reload keeps the tab offline; the page resumes the payment, with its key, and it waits again.
      await tab.reload();
      await expect.poll(() => state('resumed'), WAIT).toBe('true');
      expect(await state('paused')).toBe('true');
      expect(await state('key')).toBe(key);
      expect(await tab.getByTestId('chaos-offline').isChecked()).toBe(true);
      expect(await tab.getByTestId('answer-resumed').textContent()).toBe('Resumed after a reload');
      expect(await tab.getByTestId('answer-pending').textContent()).toContain('Waiting for the network');
      expect(await tab.getByTestId('backend-state').getAttribute('data-state')).toBe('offline');
      expect(await serverPayments(server.url)).toHaveLength(before.length);
      await saveScreenshot(tab, 'offline-payment-waiting-after-reload');

      // Back online: the payment is sent, once, with the key made before the reload.
      await flip(tab, 'chaos-offline', false);
      await expect.poll(() => state('status'), WAIT).toBe('success');
      expect(await state('key')).toBe(key);
      const after = await serverPayments(server.url);
      expect(after).toHaveLength(before.length + 1);
      expect(after.filter((payment) => payment.key === key)).toHaveLength(1);
      const answer = tab.getByTestId('answer');
      expect(await answer.getAttribute('data-payment-id')).toBe(after.find((payment) => payment.key === key)!.id);
      expect(await answer.textContent()).toContain('Paid €42.00.');
      expect(await tab.getByTestId('answer-resumed').count()).toBe(1);
      await tab.locator(`[data-testid="call"][data-key="${key}"] [data-testid="call-resumed"]`).waitFor(WAIT);
      // A success starts a new intent.
      await expect.poll(() => intentKey(tab), WAIT).not.toBe(key);
      await saveScreenshot(tab, 'offline-payment-resumed');
      await tab.close();
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'takes the README screenshot: a double click with the answer dropped, and the whole ledger',
    async () => {
      const tab = await chromium.context.newPage();
      await tab.goto(server.url);
      await flip(tab, 'chaos-drop', true);
      await tab.getByTestId('pay').dblclick();
      await settled(tab);
      await tab.getByTestId('refused-write').first().waitFor(WAIT);
      await tab.mouse.move(0, 0);
      const path = await saveScreenshot(tab, 'readme');
      if (process.env.UPDATE_SCREENSHOT === '1') copyFileSync(path, `${ROOT_DIR}docs/screenshot.png`);
      await calm({ dropResponseAfterCommit: false });
      await tab.close();
    },
    TEST_TIMEOUT_MS,
  );
});
