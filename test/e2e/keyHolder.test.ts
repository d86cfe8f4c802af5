import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { describeWithoutChromium, hasChromium, launchChromium } from './support/chromium.js';
import { type IntentPageServer, startIntentPageServer } from './support/intentPageServer.js';

// useIdempotencyKey in a real DOM: React renders it in Chromium (the intent page's holder view), with
// real localStorage, storage events and BroadcastChannel, rather than renderToString in Node.

const WAIT = { timeout: 20_000 };
describeWithoutChromium('the key holder in a browser');

const keyOf = (page: Page, id: string) => page.getByTestId(`${id}-key`).getAttribute('data-key');

describe.skipIf(!hasChromium)('useIdempotencyKey in Chromium', () => {
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
    expect(pageErrors.splice(0)).toEqual([]);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  async function openHolders(fresh = true): Promise<Page> {
    if (fresh) context = await browser.newContext();
    const page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(`${server.url}/?view=holder`);
    await expect.poll(() => keyOf(page, 'a'), WAIT).toMatch(/^[0-9a-f-]{36}$/);
    return page;
  }

  it('keeps the intent of a custom storage passed inline (a new object each render) across renders', async () => {
    const page = await openHolders();
    const key = await keyOf(page, 'inline');
    expect(key).toMatch(/^[0-9a-f-]{36}$/);
    for (let render = 1; render <= 3; render++) {
      await page.getByTestId('rerender').click();
      await expect.poll(() => page.getByTestId('inline-key').getAttribute('data-renders'), WAIT).toBe(String(render));
      expect(await keyOf(page, 'inline')).toBe(key);
    }
  });

  it('shows one key in every component of an intent, and the new one in all of them after a rotation', async () => {
    const page = await openHolders();
    const first = await keyOf(page, 'a');
    expect(await keyOf(page, 'b')).toBe(first);
    await page.getByTestId('a-rotate').click();
    await expect.poll(() => keyOf(page, 'b'), WAIT).not.toBe(first);
    expect(await keyOf(page, 'a')).toBe(await keyOf(page, 'b'));
  });

  it('rotates after a success, in every component, and keeps the key after a failure', async () => {
    const page = await openHolders();
    const first = await keyOf(page, 'a');
    await page.getByTestId('b-fail').click();
    // A failure leaves nothing to wait for in the DOM; a success after it proves the order.
    await page.getByTestId('b-succeed').click();
    await expect.poll(() => keyOf(page, 'a'), WAIT).not.toBe(first);
    expect(await keyOf(page, 'b')).toBe(await keyOf(page, 'a'));
    const second = await keyOf(page, 'a');
    await page.getByTestId('a-fail').click();
    await page.getByTestId('rerender').click();
    await expect.poll(() => page.getByTestId('inline-key').getAttribute('data-renders'), WAIT).toBe('1');
    expect(await keyOf(page, 'a')).toBe(second);
  });

  it('shows another tab the new key at once, without a reload', async () => {
    const [one, two] = [await openHolders(), await openHolders(false)];
    const first = await keyOf(one, 'a');
    expect(await keyOf(two, 'a')).toBe(first);
    await one.getByTestId('a-rotate').click();
    const rotated = await keyOf(one, 'a');
    expect(rotated).not.toBe(first);
    await expect.poll(() => keyOf(two, 'a'), WAIT).toBe(rotated);
    await expect.poll(() => keyOf(two, 'b'), WAIT).toBe(rotated);
  });
});
