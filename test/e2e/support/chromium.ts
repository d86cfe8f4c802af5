import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { describe, it } from 'vitest';

/** Debian's Chromium, or the one CHROMIUM_PATH names. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Whether the browser tests can run here. */
export const hasChromium = existsSync(CHROMIUM_PATH);

/** What a developer without Chromium is told. */
export const MISSING_CHROMIUM = `Chromium was not found at ${CHROMIUM_PATH}, so the browser test is skipped. Install it: apt-get install -y chromium (or set CHROMIUM_PATH).`;

/**
 * Stands in for a browser suite where Chromium is missing: a test that fails under `CI=true` (CI must run the
 * browser tests) and a skipped one elsewhere, under "<title>, without Chromium".
 */
export function describeWithoutChromium(title: string): void {
  if (hasChromium) return;
  describe(`${title}, without Chromium`, () => {
    if (process.env.CI === 'true') {
      it('fails on CI, which must run the browser tests', () => {
        throw new Error(MISSING_CHROMIUM.replace('so the browser test is skipped', 'and CI must run the browser test'));
      });
    } else {
      it.skip('is skipped: install Chromium with apt-get install -y chromium', () => {});
    }
  });
}

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-background-networking',
  '--disable-quic',
  '--no-first-run',
  '--disable-component-update',
  '--disable-sync',
];

/** A headless Chromium and one browser context in it: the tabs of one customer, sharing localStorage. */
export interface ChromiumSession {
  browser: Browser;
  context: BrowserContext;
  close(): Promise<void>;
}

/** Launches Debian's Chromium through playwright-core; playwright gives it a fresh, temporary profile. */
export async function launchChromium(): Promise<ChromiumSession> {
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: ARGS, timeout: 30_000 });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  return {
    browser,
    context,
    close: async () => {
      await context.close();
      await browser.close();
    },
  };
}

/** Where the browser tests save what the page looked like: test-output/example/<name>.png. */
export const SCREENSHOT_DIR = fileURLToPath(new URL('../../../test-output/example/', import.meta.url));

/** Saves a full-page screenshot of `page` under {@link SCREENSHOT_DIR} and returns its path. */
export async function saveScreenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const path = `${SCREENSHOT_DIR}${name}.png`;
  await page.screenshot({ path, fullPage: true });
  return path;
}
