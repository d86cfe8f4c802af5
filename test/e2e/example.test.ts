import { randomUUID } from 'node:crypto';
import { copyFileSync, mkdirSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ChromiumSession, hasChromium, launchChromium, MISSING_CHROMIUM } from './support/chromium.js';
import { buildExample, type ExampleProcess, ROOT_DIR, startExampleProcess } from './support/exampleProcess.js';

// The example in a real browser: the example server as `npm start` runs it, Debian's Chromium through
// playwright-core. Without Chromium a developer gets a skip with the install command; CI gets a failure.

const SCREENSHOT = `${ROOT_DIR}test-output/example-react-node.png`;
const WAIT = { timeout: 20_000 };
/** Generous: the whole suite shares two cores with every other test file. */
const TEST_TIMEOUT_MS = 60_000;

const onCI = process.env.CI === 'true';
if (!hasChromium && !onCI) console.warn(MISSING_CHROMIUM);

if (!hasChromium) {
  describe('the example in a browser, without Chromium', () => {
    if (onCI) {
      it('fails on CI, which must run the browser test', () => {
        throw new Error(MISSING_CHROMIUM.replace('so the browser test is skipped', 'and CI must run the browser test'));
      });
    } else {
      it.skip('is skipped: install Chromium with apt-get install -y chromium', () => {});
    }
  });
}

/** Every payment the server holds, read over HTTP so the count does not depend on the page. */
async function serverPayments(url: string): Promise<Array<{ id: string; key: string }>> {
  const response = await fetch(`${url}/trpc/payments.list`);
  return ((await response.json()) as any).result.data.json;
}

/** Sets the example server's chaos switches the way the README's curl command does. */
async function setChaos(url: string, settings: Record<string, unknown>): Promise<void> {
  const response = await fetch(`${url}/trpc/chaos.set`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ json: settings }),
  });
  expect(response.status).toBe(200);
}

/** Waits until the page has an answer and no attempt of any call is still in flight. */
async function settled(page: Page): Promise<void> {
  await page.getByTestId('answer').or(page.getByTestId('answer-error')).first().waitFor(WAIT);
  await expect.poll(() => page.locator('[data-testid="attempt"][data-outcome="started"]').count(), WAIT).toBe(0);
  await expect.poll(() => page.getByTestId('pay').getAttribute('aria-busy'), WAIT).toBe('false');
}

const intentKey = (page: Page) => page.getByTestId('intent-key').getAttribute('data-key');
const ledgerKeys = (page: Page) =>
  page.getByTestId('ledger-row').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-key')));

describe.skipIf(!hasChromium)('the example in a browser', () => {
  let server: ExampleProcess;
  let chromium: ChromiumSession;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    await buildExample();
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
  }, 120_000);

  afterEach(() => {
    const errors = pageErrors.splice(0);
    expect(errors).toEqual([]);
  });

  afterAll(async () => {
    await chromium?.close();
    await server?.stop();
  });

  it(
    'makes one payment from a double click while every fresh answer is dropped after the commit',
    async () => {
      await page.getByTestId('chaos-drop').click();
      await expect.poll(() => page.getByTestId('chaos-drop').isChecked(), WAIT).toBe(true);
      const key = await intentKey(page);
      expect(key).toMatch(/^[0-9a-f-]{36}$/);

      await page.getByTestId('pay').dblclick();
      await settled(page);

      await expect.poll(() => ledgerKeys(page), WAIT).toEqual([key]);
      expect((await serverPayments(server.url)).map((payment) => payment.key)).toEqual([key]);
      const attempts = page.locator('[data-testid="attempt"]:not([data-outcome="started"])');
      const attemptKeys = await attempts.evaluateAll((rows) => rows.map((row) => row.getAttribute('data-key')));
      expect(attemptKeys.length).toBeGreaterThanOrEqual(2);
      expect(new Set(attemptKeys)).toEqual(new Set([key]));
      // The first answer was cut off, so the page's answer is the replay of the stored outcome.
      expect(await page.locator('[data-testid="attempt"][data-outcome="retrying"]').count()).toBeGreaterThanOrEqual(1);
      await page.getByTestId('answer-replayed').waitFor(WAIT);
      // A success starts a new intent.
      expect(await intentKey(page)).not.toBe(key);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'makes one payment when two tabs pay the same intent at once',
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
      for (const tab of tabs) {
        expect(await tab.getByTestId('answer-error').count()).toBe(0);
        await expect.poll(() => ledgerKeys(tab).then((keys) => keys.filter((k) => k === keyA)), WAIT).toEqual([keyA]);
        const answer = await tab.getByTestId('answer').getAttribute('data-payment-id');
        expect(answer).toBe(after.find((payment) => payment.key === keyA)!.id);
        await tab.close();
      }
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'shows a payment made with curl through the tRPC HTTP API in the ledger',
    async () => {
      await page.getByTestId('chaos-drop').click();
      await expect.poll(() => page.getByTestId('chaos-drop').isChecked(), WAIT).toBe(false);
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

      // The README's picture: the faults back on, the attempts of the double click, the whole ledger.
      await page.getByTestId('chaos-drop').click();
      await expect.poll(() => page.getByTestId('chaos-drop').isChecked(), WAIT).toBe(true);
      mkdirSync(`${ROOT_DIR}test-output`, { recursive: true });
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
      if (process.env.UPDATE_SCREENSHOT === '1') copyFileSync(SCREENSHOT, `${ROOT_DIR}docs/screenshot.png`);
    },
    TEST_TIMEOUT_MS,
  );
});
