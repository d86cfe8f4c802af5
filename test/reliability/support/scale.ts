import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** True for `npm run test:reliability` (RELIABILITY=full); false for the quick mode inside `npm test`. */
export const FULL = process.env.RELIABILITY === 'full';

/** Picks the quick or the full size of a scenario parameter. */
export function size<T>(quick: T, full: T): T {
  return FULL ? full : quick;
}

/**
 * Keeps a scenario's figures: printed always, and written as JSON to RELIABILITY_RESULTS (set by
 * run.ts) so that the full run can be summed up in RELIABILITY.md.
 */
export function recordFigures(scenario: string, figures: Record<string, unknown>): void {
  const record = { scenario, mode: FULL ? 'full' : 'quick', at: new Date().toISOString(), ...figures };
  console.log(`[reliability] ${JSON.stringify(record)}`);
  const dir = process.env.RELIABILITY_RESULTS;
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${scenario}.json`), `${JSON.stringify(record, null, 2)}\n`);
}

/** Percentile of a list of numbers (p in 0..100), or 0 for an empty list. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Waits until `check` is true, asking every `everyMs`; fails with `what` after `timeoutMs`. */
export async function waitUntil(
  what: string,
  check: () => Promise<boolean> | boolean,
  { timeoutMs = 30_000, everyMs = 50 } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}.`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
