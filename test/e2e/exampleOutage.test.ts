import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasRedisServer, type RedisProcess, startRedis } from '../support/redisServer.js';
import { type ChromiumSession, hasChromium, launchChromium, saveScreenshot } from './support/chromium.js';
import { serverPayments } from './support/exampleApi.js';
import { type ExampleProcess, startExampleProcess } from './support/exampleProcess.js';

// The example on Redis, in a real browser, with its Redis killed in the middle of the session: the page
// must stay usable and say what happened to the money. A private redis-server, so the test can kill it;
// example.test.ts says what happens without Chromium.

/** What the issue asks of the page: usable again, with an honest message, within 20 s. */
const HONEST_WITHIN = { timeout: 20_000 };

const intentKey = (page: Page) => page.getByTestId('intent-key').getAttribute('data-key');
const storeState = (page: Page) => page.getByTestId('backend-state').getAttribute('data-state');

// A Redis the test can kill: a private redis-server (skipped where only REDIS_URL is given).
describe.skipIf(!hasChromium || !hasRedisServer())('the example in a browser, when its Redis dies', () => {
  let redis: RedisProcess;
  let server: ExampleProcess;
  let chromium: ChromiumSession;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    const [started, launched] = await Promise.allSettled([
      startExampleProcess({ REDIS_URL: redis.url }),
      launchChromium(),
    ]);
    if (started.status === 'fulfilled') server = started.value;
    if (launched.status === 'fulfilled') chromium = launched.value;
    if (started.status === 'rejected') throw started.reason;
    if (launched.status === 'rejected') throw launched.reason;
    page = await chromium.context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(server.url);
  }, 180_000);

  afterAll(async () => {
    await chromium?.close();
    await server?.stop();
    await redis?.stop();
  });

  it('keeps the Pay button usable, says nothing was charged, keeps the last ledger, and pays once when Redis is back', async () => {
    await expect.poll(() => storeState(page), HONEST_WITHIN).toBe('redis');
    await page.getByTestId('pay').click();
    const paid = await page.getByTestId('answer').getAttribute('data-payment-id', HONEST_WITHIN);
    await page.locator(`[data-testid="ledger-row"][data-payment-id="${paid}"]`).waitFor(HONEST_WITHIN);

    await redis.stop(); // SIGKILL: no goodbye to the clients
    const key = await intentKey(page);
    await page.getByTestId('pay').click();

    // The button comes back and the answer says what happened to the money.
    const refused = page.getByTestId('answer-error');
    await refused.waitFor(HONEST_WITHIN);
    await expect.poll(() => page.getByTestId('pay').getAttribute('aria-busy'), HONEST_WITHIN).toBe('false');
    expect(await page.getByTestId('pay').textContent()).toMatch(/^Pay /);
    expect(await refused.textContent()).toContain('Nothing was charged');
    // The badge says what is really used, and that it is down.
    await expect.poll(() => storeState(page), HONEST_WITHIN).toBe('redis-down');
    expect(await page.getByTestId('backend-state').textContent()).toContain('unreachable');
    // The ledger keeps the payments of its last good answer and says it cannot reach the ledger.
    await page.getByTestId('ledger-stale').waitFor(HONEST_WITHIN);
    expect(await page.getByTestId('ledger-stale').textContent()).toContain('as of');
    expect(await page.locator(`[data-testid="ledger-row"][data-payment-id="${paid}"]`).count()).toBe(1);
    // The chaos panel does not need the store: it still answers.
    expect(await page.getByTestId('chaos-drop').isEnabled()).toBe(true);
    await saveScreenshot(page, 'redis-down');

    // Redis comes back (empty: it keeps nothing on disk). The same intent pays, once.
    await redis.restart();
    await expect.poll(() => storeState(page), HONEST_WITHIN).toBe('redis');
    expect(await intentKey(page)).toBe(key);
    await page.getByTestId('pay').click();
    await page.getByTestId('answer').waitFor(HONEST_WITHIN);
    expect((await serverPayments(server.url)).filter((payment) => payment.key === key)).toHaveLength(1);
    await expect.poll(() => page.getByTestId('ledger-stale').count(), HONEST_WITHIN).toBe(0);
    await saveScreenshot(page, 'redis-back');
    expect(pageErrors).toEqual([]);
  }, 120_000);
});
