import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Page } from 'playwright-core';
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

// The example as `npm start` runs it (SQLite, the demo) in Chromium, its server killed (SIGKILL, as a crash
// or a pulled plug: nothing drained, nothing closed) in the middle of a checkout and started again on the
// same port with the same file, so the page keeps its origin and its localStorage. Twice:
//
//   1. The payment's request is held before it reaches the handler (the chaos panel's delay): nothing of it
//      is in the file. After the restart the page resumes it with its key and it is paid, once, afresh.
//   2. The payment has committed, but its answer was dropped (the chaos panel's "drop response after
//      commit") and the retry is held before the handler: the key is paid, in the file, and the page never
//      heard. After the restart the page resumes it with its key and gets the stored answer: replayed.
//
// Each time the shopper reloads while the server is down (the browser's error page) and again once it is
// back; the reload keeps the pending payment, as it would any reload (checkout/lastPayment.ts, usePayment.ts).
// Then: the ledger of before the restart is on the page, a key paid before it is replayed to the curl
// command, and the SQLite file holds one payment row and one completed record per key.

const WAIT = { timeout: 20_000 };
/** How long the demo holds a keyed request before the handler: ample time to kill the server meanwhile. */
const HOLD_MS = 3000;
/** What the checkout sends with its default fields (CheckoutCard.tsx). */
const CHECKOUT_INPUT = { amount: 4200, currency: 'EUR', note: 'Espresso beans, 1 kg' };
describeWithoutChromium('the example restarted in the middle of a checkout');

const intentKey = (page: Page) => page.getByTestId('intent-key').getAttribute('data-key');
const ledgerKeys = (page: Page) =>
  page.getByTestId('ledger-row').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-key')));

/** What the checkout's answer slot says about the payment it shows. */
const shownPayment = (page: Page) =>
  page.getByTestId('payment').evaluate((slot) => ({
    key: slot.getAttribute('data-key'),
    status: slot.getAttribute('data-status'),
    resumed: slot.getAttribute('data-resumed'),
    paymentId: slot.querySelector('[data-testid="answer"]')?.getAttribute('data-payment-id') ?? null,
    replayed: slot.querySelector('[data-testid="answer-replayed"]') !== null,
  }));

/** The payments of `key` the server holds. */
const paymentsOf = async (url: string, key: string) =>
  (await serverPayments(url)).filter((payment) => payment.key === key);

/** Payment rows per key and completed idempotency records, read from the file itself (read-only). */
function countInFile(file: string): { rowsPerKey: Record<string, number>; completedRecords: number } {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare('SELECT key, count(*) AS n FROM ledger_payments GROUP BY key').all() as Array<{
      key: string;
      n: number;
    }>;
    const completed = db.prepare("SELECT count(*) FROM trpc_idempotency WHERE state = 'c'").pluck().get() as number;
    return { rowsPerKey: Object.fromEntries(rows.map((row) => [row.key, row.n])), completedRecords: completed };
  } finally {
    db.close();
  }
}

/** The curl command of the README, with a key of the caller's. */
async function curlPay(url: string, key: string) {
  const response = await fetch(`${url}/trpc/payments.create`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'Idempotency-Key': key },
    body: JSON.stringify({ json: CHECKOUT_INPUT }),
  });
  const body = (await response.json()) as { result?: { data: { json: { id: string } } } };
  return {
    status: response.status,
    replayed: response.headers.get('idempotent-replayed'),
    id: body.result?.data.json.id,
  };
}

describe.skipIf(!hasChromium)('the example in Chromium, its server restarted in the middle of a checkout', () => {
  let dir: string;
  let file: string;
  let port: string;
  let server: ExampleProcess;
  let chromium: ChromiumSession;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'example-restart-'));
    file = join(dir, 'payments.db');
    const [started, launched] = await Promise.allSettled([
      startExampleProcess({ SQLITE_FILE: file }),
      launchChromium(),
    ]);
    if (started.status === 'fulfilled') server = started.value;
    if (launched.status === 'fulfilled') chromium = launched.value;
    if (started.status === 'rejected') throw started.reason;
    if (launched.status === 'rejected') throw launched.reason;
    port = new URL(server.url).port;
  }, 180_000);

  afterAll(async () => {
    await chromium?.close();
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /**
   * Kills the server while the page's payment is in flight, reloads the page while it is down (the browser's
   * error page: the payment's tab is gone, its pending entry stays), starts it again on the same port with
   * the same file, and opens the page again.
   */
  async function crashAndRestart(page: Page): Promise<void> {
    const url = server.url;
    await server.kill();
    await page.reload().catch(() => {});
    expect(await page.getByTestId('pay').count(), 'the reload while the server is down gets the error page').toBe(0);
    server = await startExampleProcess({ SQLITE_FILE: file, PORT: port });
    expect(server.url, 'the same origin, so the page keeps its localStorage').toBe(url);
    await page.goto(url);
    await page.getByTestId('pay').waitFor(WAIT);
  }

  /** After a restart: the page shows `key`'s payment resumed, and waits until it has paid. */
  async function resumedAndPaid(page: Page, key: string) {
    const first = await shownPayment(page);
    expect(first, 'from its first render the page shows the payment it was making').toMatchObject({
      key,
      resumed: 'true',
    });
    await expect.poll(() => shownPayment(page).then((shown) => shown.status), WAIT).toBe('success');
    await expect.poll(() => intentKey(page), WAIT).not.toBe(key);
    return shownPayment(page);
  }

  it('keeps the ledger, pays the interrupted checkout once with its key, and replays a key paid before', async () => {
    const page = await chromium.context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(server.url);
    await page.getByTestId('pay').waitFor(WAIT);

    // A completed payment, in the ledger.
    const paidFirst = (await intentKey(page))!;
    expect(paidFirst).toMatch(/^[0-9a-f-]{36}$/);
    await page.getByTestId('pay').click();
    await expect.poll(() => shownPayment(page).then((shown) => shown.status), WAIT).toBe('success');
    await page.locator(`[data-testid="ledger-row"][data-key="${paidFirst}"]`).waitFor(WAIT);
    const [firstPayment] = await paymentsOf(server.url, paidFirst);
    expect(firstPayment).toBeDefined();

    // 1. Killed while the payment is held before the handler: nothing of it reached the file.
    await expect.poll(() => intentKey(page), WAIT).not.toBe(paidFirst);
    const heldKey = (await intentKey(page))!;
    expect(await setChaos(server.url, { delayMs: HOLD_MS })).toBe(200);
    await page.getByTestId('pay').click();
    await page.locator(`[data-testid="attempt"][data-key="${heldKey}"]`).first().waitFor(WAIT);
    await crashAndRestart(page);

    // The ledger of before the restart, on the page; the resumed payment made afresh, once.
    await expect.poll(() => ledgerKeys(page), WAIT).toContain(paidFirst);
    const held = await resumedAndPaid(page, heldKey);
    const heldPayments = await paymentsOf(server.url, heldKey);
    expect(heldPayments, 'exactly one payment for the interrupted checkout').toHaveLength(1);
    expect(held).toMatchObject({ paymentId: heldPayments[0]!.id, replayed: false });

    // 2. Killed after the payment committed, its answer dropped and the retry held before the handler.
    const lostKey = (await intentKey(page))!;
    expect(await setChaos(server.url, { dropResponseAfterCommit: true, delayMs: HOLD_MS })).toBe(200);
    // Its status line comes back (the chaos panel cuts the connection after the headers) once it has committed.
    const committed = page.waitForResponse((response) => response.url().endsWith('/trpc/payments.create'), WAIT);
    await page.getByTestId('pay').click();
    expect((await committed).status()).toBe(200);
    expect(await paymentsOf(server.url, lostKey)).toHaveLength(1);
    expect(await shownPayment(page), 'the page never heard of the payment').toMatchObject({
      key: lostKey,
      status: 'pending',
    });
    await crashAndRestart(page);

    // The resumed payment gets the stored answer: replayed, no second payment.
    const lost = await resumedAndPaid(page, lostKey);
    const lostPayments = await paymentsOf(server.url, lostKey);
    expect(lostPayments, 'exactly one payment for the checkout whose answer was lost').toHaveLength(1);
    expect(lost).toMatchObject({ paymentId: lostPayments[0]!.id, replayed: true });
    await expect.poll(() => ledgerKeys(page), WAIT).toEqual([lostKey, heldKey, paidFirst]);
    await saveScreenshot(page, 'restart-mid-checkout');

    // The key paid before both restarts, sent again with the curl command: the stored answer, replayed.
    const again = await curlPay(server.url, paidFirst);
    expect(again).toEqual({ status: 200, replayed: 'true', id: firstPayment!.id });

    // The file: one payment row and one completed record per key.
    expect(countInFile(file)).toEqual({
      rowsPerKey: { [paidFirst]: 1, [heldKey]: 1, [lostKey]: 1 },
      completedRecords: 3,
    });
    expect(await serverPayments(server.url)).toHaveLength(3);
    expect(pageErrors).toEqual([]);
  }, 120_000);
});
