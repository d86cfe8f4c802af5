import type { Browser, BrowserContext, CDPSession, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { describeWithoutChromium, hasChromium, launchChromium } from './support/chromium.js';
import { type IntentPageServer, startIntentPageServer } from './support/intentPageServer.js';

// The TanStack Query integration and cross-tab intents in real Chromium, against the intent page
// (test/e2e/fixtures/intent-page): tabs, going offline, reloads and React Query's retries.

const WAIT = { timeout: 20_000 };
/** Generous: the whole suite shares two cores with every other test file. */
const TEST_TIMEOUT_MS = 60_000;
describeWithoutChromium('the intent page');

const intentKey = (page: Page) => page.getByTestId('intent-key').getAttribute('data-key');
const payment = (page: Page, name: 'status' | 'paused' | 'resumed' | 'key' | 'payment-id') =>
  page.getByTestId('payment').getAttribute(`data-${name}`);

/** Chromium's own offline mode through the DevTools protocol: navigator.onLine, its events, no requests. */
function setOffline(cdp: CDPSession, offline: boolean) {
  return cdp.send('Network.emulateNetworkConditions', {
    offline,
    latency: 0,
    downloadThroughput: -1,
    uploadThroughput: -1,
  });
}

describe.skipIf(!hasChromium)('the intent page in Chromium', () => {
  let server: IntentPageServer;
  let browser: Browser;
  let context: BrowserContext;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    const [started, launched] = await Promise.allSettled([startIntentPageServer(), launchChromium()]);
    if (started.status === 'fulfilled') server = started.value;
    if (launched.status === 'fulfilled') browser = launched.value.browser;
    if (started.status === 'rejected') throw started.reason;
    if (launched.status === 'rejected') throw launched.reason;
  }, 120_000);

  afterEach(async () => {
    await context?.close();
    server.failFirstAttempts(0);
    server.ledger.handlerDelayMs = 0;
    expect(pageErrors.splice(0)).toEqual([]);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  /** A new customer: a fresh browser context (its own storage), and a tab of the page in it. */
  async function openTab(query = '', fresh = true): Promise<Page> {
    if (fresh) context = await browser.newContext();
    const page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(`${server.url}/${query}`);
    await expect.poll(() => intentKey(page), WAIT).toMatch(/^[0-9a-f-]{36}$/);
    return page;
  }

  it(
    'pays three rounds from two tabs at once: three payments, one chain of requests per round',
    async () => {
      // Long enough that the second tab's click lands while the first tab's payment is in flight.
      server.ledger.handlerDelayMs = 300;
      const tabs = [await openTab(), await openTab('', false)];
      const keys: string[] = [];
      for (let round = 1; round <= 3; round++) {
        const [keyA, keyB] = await Promise.all(tabs.map(intentKey));
        expect(keyB, `round ${round}: both tabs hold one key`).toBe(keyA);
        expect(keys).not.toContain(keyA);
        keys.push(keyA!);

        // Dispatched, not clicked: Playwright's click waits for animation frames, which a background tab
        // gets about once a second, so the second tab's click would land long after the first.
        await Promise.all(tabs.map((tab) => tab.getByTestId('pay').dispatchEvent('click')));

        for (const tab of tabs) {
          await expect.poll(() => payment(tab, 'status'), WAIT).toBe('success');
          expect(await payment(tab, 'key')).toBe(keyA);
        }
        const ids = await Promise.all(tabs.map((tab) => payment(tab, 'payment-id')));
        expect(ids[1]).toBe(ids[0]);
        expect(server.ledger.payments).toHaveLength(round);
        // Both tabs moved on to the same new key.
        await expect.poll(async () => new Set(await Promise.all(tabs.map(intentKey))).size === 1, WAIT).toBe(true);
        expect(await intentKey(tabs[0]!)).not.toBe(keyA);
      }
      expect(server.ledger.payments.map((paid) => paid.key)).toEqual(keys);
      // No faults, so one chain of attempts is one request: the second tab joined the first one's.
      for (const key of keys) expect(server.requests.filter((seen) => seen.key === key)).toHaveLength(1);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'pays once, with the key made before the reload, for a click made offline and a reload before the network came back',
    async () => {
      const page = await openTab();
      await page.locator('body[data-offline-ready="true"]').waitFor(WAIT);
      const cdp = await context.newCDPSession(page);
      const requestsBefore = server.requests.length;

      await setOffline(cdp, true);
      await page.getByTestId('pay').click();
      await expect.poll(() => payment(page, 'paused'), WAIT).toBe('true');
      const key = await payment(page, 'key');
      expect(key).toBe(await intentKey(page));

      // The page comes from its service worker's cache; the payment waits, with its key.
      await page.reload();
      await page.locator('body[data-resumed-all="true"]').waitFor(WAIT);
      await expect.poll(() => payment(page, 'key'), WAIT).toBe(key);
      expect(await payment(page, 'paused')).toBe('true');
      expect(await payment(page, 'resumed')).toBe('true');
      expect(server.requests.length).toBe(requestsBefore);

      await setOffline(cdp, false);
      await expect.poll(() => payment(page, 'status'), WAIT).toBe('success');
      expect(await payment(page, 'key')).toBe(key);
      expect(await payment(page, 'resumed')).toBe('true');
      expect(server.ledger.payments.filter((paid) => paid.key === key)).toHaveLength(1);
      expect(server.requests.slice(requestsBefore).map((seen) => seen.key)).toEqual([key]);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'resumes a payment that a reload interrupted and shows its outcome, with no second click',
    async () => {
      server.ledger.handlerDelayMs = 2000;
      const page = await openTab();
      const started = server.ledger.started;
      await page.getByTestId('pay').click();
      await expect.poll(() => server.ledger.started, WAIT).toBe(started + 1);
      const key = await payment(page, 'key');

      await page.reload();

      await expect.poll(() => payment(page, 'status'), WAIT).toBe('success');
      expect(await payment(page, 'resumed')).toBe('true');
      expect(await payment(page, 'key')).toBe(key);
      const paid = server.ledger.payments.filter((entry) => entry.key === key);
      expect(paid).toHaveLength(1);
      expect(await payment(page, 'payment-id')).toBe(paid[0]!.id);
      expect(server.ledger.started).toBe(started + 1);
      // A new intent after the resumed success.
      expect(await intentKey(page)).not.toBe(key);
    },
    TEST_TIMEOUT_MS,
  );

  /** The link's reports for one key, without `started`: [attempt, maxAttempts, outcome]. */
  const reports = (page: Page, key: string) =>
    page.evaluate(
      (wanted) =>
        (window as unknown as { attempts: Array<Record<string, unknown>> }).attempts
          .filter((event) => event.key === wanted && event.outcome !== 'started')
          .map((event) => [event.attempt, event.maxAttempts, event.outcome]),
      key,
    );

  it(
    "with React Query's retry: 3 and two 503s, pays once with one key, and only React Query retries",
    async () => {
      server.failFirstAttempts(2);
      const page = await openTab('?retry=3');
      const key = (await intentKey(page))!;
      await page.getByTestId('pay').click();
      await expect.poll(() => payment(page, 'status'), WAIT).toBe('success');

      expect(server.ledger.payments.filter((paid) => paid.key === key)).toHaveLength(1);
      const seen = server.requests.filter((request) => request.key === key);
      // Three requests: React Query's first try and its two retries, each one request of the link.
      expect(seen.map((request) => request.status)).toEqual([503, 503, 200]);
      expect(await reports(page, key)).toEqual([
        [1, 1, 'failed'],
        [1, 1, 'failed'],
        [1, 1, 'succeeded'],
      ]);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "makes exactly retry + 1 requests when every try fails: React Query's retries are not multiplied by the link's",
    async () => {
      server.failFirstAttempts(100);
      const page = await openTab('?retry=3');
      const key = (await intentKey(page))!;
      await page.getByTestId('pay').click();
      await expect.poll(() => payment(page, 'status'), WAIT).toBe('error');
      expect(server.requests.filter((request) => request.key === key)).toHaveLength(4);
      expect(server.ledger.payments.filter((paid) => paid.key === key)).toHaveLength(0);
      // The intent keeps its key after a failure: paying again is the same intent.
      expect(await intentKey(page)).toBe(key);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'without React Query retries, lets the link retry: one try, three requests, one key',
    async () => {
      server.failFirstAttempts(2);
      const page = await openTab();
      const key = (await intentKey(page))!;
      await page.getByTestId('pay').click();
      await expect.poll(() => payment(page, 'status'), WAIT).toBe('success');
      expect(server.requests.filter((request) => request.key === key).map((request) => request.status)).toEqual([
        503, 503, 200,
      ]);
      expect(await reports(page, key)).toEqual([
        [1, 5, 'retrying'],
        [2, 5, 'retrying'],
        [3, 5, 'succeeded'],
      ]);
      expect(server.ledger.payments.filter((paid) => paid.key === key)).toHaveLength(1);
    },
    TEST_TIMEOUT_MS,
  );
});
