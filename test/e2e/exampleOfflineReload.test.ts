import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ChromiumSession,
  describeWithoutChromium,
  hasChromium,
  launchChromium,
  saveScreenshot,
} from './support/chromium.js';
import { serverPayments, setChaos } from './support/exampleApi.js';
import { type ExampleProcess, startExampleProcess } from './support/exampleProcess.js';

// The example (as `npm start` runs it: SQLite, the demo) in Chromium, with the browser's own offline mode
// (Playwright's context.setOffline), not the chaos panel's switch: pay offline, reload while offline (the
// browser shows its error page: nothing serves the page offline), go online. Five runs in a row in one
// tab, with the payment paused offline before it was sent, in flight when the network went (left in
// doubt), or with its answer arriving just as the network went. Each run: exactly one payment for its
// intent, and the page shows that intent, under its key, pending or paid, from the moment it is back,
// never an empty checkout beside a payment made.
//
// What Chromium does here, seen with a request log: when the reload fails, the page being replaced is told
// it is online again before it goes, and its paused payment goes out from it. That payment reaches the
// server; whether its answer reaches the dying page depends on timing. So the next page finds either the
// pending payment (resumed with its key, replayed) or its receipt (checkout/lastPayment.ts): both are asserted.

const WAIT = { timeout: 20_000 };
const RUNS = 5;
/** How each run loses the network, in turn. */
const WAYS = ['paused', 'in flight', 'answered'] as const;
describeWithoutChromium('the example offline → reload → online');

const intentKey = (page: Page) => page.getByTestId('intent-key').getAttribute('data-key');

/** What the checkout's answer slot says about the payment it shows. */
const shownPayment = (page: Page) =>
  page.getByTestId('payment').evaluate((slot) => ({
    key: slot.getAttribute('data-key'),
    status: slot.getAttribute('data-status'),
    answer: slot.querySelector('[data-testid^="answer"]')?.getAttribute('data-testid') ?? null,
    paymentId: slot.querySelector('[data-testid="answer"]')?.getAttribute('data-payment-id') ?? null,
  }));

/**
 * Back online, the page comes back: Chromium's error page reloads itself when the network returns; where it
 * has not within a few seconds, the test reloads it, as a shopper would.
 */
async function backOnline(context: BrowserContext, page: Page, url: string): Promise<void> {
  await context.setOffline(false);
  const loaded = () => page.url().startsWith(url);
  for (let waited = 0; !loaded() && waited < 4000; waited += 100) await page.waitForTimeout(100);
  if (!loaded()) await page.goto(url);
  await page.getByTestId('pay').waitFor(WAIT);
}

describe.skipIf(!hasChromium)('the example in Chromium: offline → reload → online', () => {
  let server: ExampleProcess;
  let chromium: ChromiumSession;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    const [started, launched] = await Promise.allSettled([startExampleProcess(), launchChromium()]);
    if (started.status === 'fulfilled') server = started.value;
    if (launched.status === 'fulfilled') chromium = launched.value;
    if (started.status === 'rejected') throw started.reason;
    if (launched.status === 'rejected') throw launched.reason;
  }, 180_000);

  afterAll(async () => {
    await chromium?.close();
    await server?.stop();
  });

  it(`pays each of ${RUNS} intents once and shows it under its key, pending or paid, never a fresh checkout`, async () => {
    const { context } = chromium;
    const page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(server.url);
    await page.getByTestId('pay').waitFor(WAIT);
    const seen: string[] = [];

    for (let run = 0; run < RUNS; run++) {
      await expect.poll(() => page.getByTestId('pay').getAttribute('aria-busy'), WAIT).toBe('false');
      const key = (await intentKey(page))!;
      expect(key, `run ${run}: a fresh intent`).toMatch(/^[0-9a-f-]{36}$/);
      expect(seen, `run ${run}: a fresh intent`).not.toContain(key);
      seen.push(key);
      const before = await serverPayments(server.url);

      const way = WAYS[run % WAYS.length]!;
      if (way === 'paused') {
        // The click comes while the browser is offline, so TanStack Query holds the payment.
        await context.setOffline(true);
        await page.getByTestId('pay').click();
        await expect.poll(() => page.getByTestId('payment').getAttribute('data-paused'), WAIT).toBe('true');
      } else if (way === 'in flight') {
        // The request is on its way (the server holds it 1 s before it runs) when the network goes.
        await setChaos(server.url, { delayMs: 1000 });
        await page.getByTestId('pay').click();
        await page.locator(`[data-testid="call"][data-key="${key}"] [data-testid="attempt"]`).first().waitFor(WAIT);
        await context.setOffline(true);
      } else {
        // The answer arrives as the network goes, and the reload follows at once: the page going away may
        // or may not have taken it in (then its key has rotated and its pending entry is gone).
        const answered = page.waitForResponse((response) => response.url().includes('/trpc/payments.create'));
        await page.getByTestId('pay').click();
        await answered;
        await context.setOffline(true);
      }
      expect(await page.getByTestId('payment').getAttribute('data-key'), `run ${run}, ${way}`).toBe(key);

      // A reload while offline gets the browser's error page: nothing serves the page without the network.
      await page.reload().catch(() => {});
      await backOnline(context, page, server.url);
      await setChaos(server.url, { delayMs: 0 });

      // From its first render, the page shows this intent: pending (being resumed) or paid, with its key.
      const first = await shownPayment(page);
      expect(first.key, `run ${run}, ${way}: the page shows the intent it was paying`).toBe(key);
      expect(['pending', 'success'], `run ${run}: ${JSON.stringify(first)}`).toContain(first.status);
      await expect.poll(() => shownPayment(page).then((shown) => shown.status), WAIT).toBe('success');

      const after = await serverPayments(server.url);
      const mine = after.filter((payment) => payment.key === key);
      expect(mine, `run ${run}: exactly one payment for the intent`).toHaveLength(1);
      expect(after).toHaveLength(before.length + 1);
      const shown = await shownPayment(page);
      expect(shown).toMatchObject({ key, answer: 'answer', paymentId: mine[0]!.id });
      expect(await page.getByTestId('answer').textContent()).toContain('€42.00');
      // Beside it, the checkout is the next intent; its ledger row is on the page too.
      await expect.poll(() => intentKey(page), WAIT).not.toBe(key);
      await page.locator(`[data-testid="ledger-row"][data-key="${key}"]`).waitFor(WAIT);
      if (run === RUNS - 1) await saveScreenshot(page, 'offline-reload-online');
    }
    expect(await serverPayments(server.url)).toHaveLength(RUNS);
    expect(pageErrors).toEqual([]);
  }, 120_000);
});
