/** How the planned delay is spread around the exponential curve. */
export type Jitter = 'full' | 'equal' | 'none';

/** The numbers that decide how long to wait before a retry. */
export interface BackoffSettings {
  /** The delay before the first retry, before jitter. */
  baseDelayMs: number;
  /** No backoff delay is ever longer than this. A server's wait hint has its own cap, `maxRetryAfterMs`. */
  maxDelayMs: number;
  /**
   * `'full'` (the default) waits a random time in `[0, d]`, `'equal'` in `[d/2, d]`, `'none'` exactly `d`,
   * where `d = min(maxDelayMs, baseDelayMs * 2^(n-1))`. Jitter keeps many clients that failed together
   * from retrying together.
   */
  jitter: Jitter;
}

/**
 * The delay before retry `n` (1 for the first retry): `min(cap, base * 2^(n-1))`, with jitter.
 * `random` returns a number in `[0, 1)`; tests pass their own to get exact delays.
 *
 * @example
 * backoffDelay(3, { baseDelayMs: 250, maxDelayMs: 5000, jitter: 'none' }) // 1000
 */
export function backoffDelay(retry: number, settings: BackoffSettings, random: () => number = Math.random): number {
  const exponential = settings.baseDelayMs * 2 ** Math.max(0, retry - 1);
  const ceiling = Math.min(settings.maxDelayMs, exponential);
  switch (settings.jitter) {
    case 'none':
      return Math.round(ceiling);
    case 'equal':
      return Math.round(ceiling / 2 + (ceiling / 2) * clampUnit(random()));
    default:
      return Math.round(ceiling * clampUnit(random()));
  }
}

/** {@link BackoffSettings} and the cap on the wait a 429 or 503 may ask for. */
export interface RetryDelaySettings extends BackoffSettings {
  /** A `Retry-After` (or `retryAfterMs`) above this is not waited for: the call gives up instead. */
  maxRetryAfterMs: number;
}

/**
 * Plans the wait before retry `n` (1 for the first retry) after a failure that counts against `attempts`:
 * the jittered backoff, raised to what the server asked for (`Retry-After` or `retryAfterMs`). Returns
 * `undefined` when the server asked for more than `maxRetryAfterMs`: a retry sooner than it asked would
 * most likely meet the same answer, and waiting longer is what the caller refused, so the call gives up
 * (ky's `retry.maxRetryAfter` does the same).
 *
 * @example
 * planRetryDelay(1, { baseDelayMs: 250, maxDelayMs: 5000, maxRetryAfterMs: 60_000, jitter: 'none' }, 20_000) // 20000
 */
export function planRetryDelay(
  retry: number,
  settings: RetryDelaySettings,
  serverRetryAfterMs: number | undefined,
  random: () => number = Math.random,
): number | undefined {
  const backoff = backoffDelay(retry, settings, random);
  if (serverRetryAfterMs === undefined || !(serverRetryAfterMs > 0)) return backoff;
  if (serverRetryAfterMs > settings.maxRetryAfterMs) return undefined;
  return Math.max(backoff, Math.ceil(serverRetryAfterMs));
}

// Waiters that met one busy key all get the same hint; spreading them by a few percent keeps them
// from coming back in one burst, and never brings one back before the server asked.
const IN_PROGRESS_SPREAD = 0.05;

/**
 * Plans the wait after the `n`th 409 `IN_PROGRESS` answer (1 for the first): the server's `retryAfterMs`
 * (when to ask again), spread up to 5% later unless `jitter` is `'none'`; without a hint, the ordinary
 * backoff. Never longer than `budgetLeftMs`, what is left of `maxInProgressWaitMs`.
 *
 * @example
 * planInProgressDelay(1, { baseDelayMs: 250, maxDelayMs: 5000, jitter: 'none' }, 800, 35_000) // 800
 */
export function planInProgressDelay(
  wait: number,
  settings: BackoffSettings,
  serverRetryAfterMs: number | undefined,
  budgetLeftMs: number,
  random: () => number = Math.random,
): number {
  const hinted = serverRetryAfterMs !== undefined && serverRetryAfterMs >= 0;
  let delay = hinted ? serverRetryAfterMs : backoffDelay(wait, settings, random);
  if (hinted && settings.jitter !== 'none') delay *= 1 + IN_PROGRESS_SPREAD * clampUnit(random());
  return Math.max(0, Math.min(Math.round(delay), Math.floor(budgetLeftMs)));
}

/**
 * Reads an HTTP `Retry-After` value, either delay-seconds (`"2"`) or an HTTP-date, as milliseconds
 * from `now`. Returns `undefined` for a missing or unreadable value.
 *
 * @example
 * parseRetryAfter('2') // 2000
 */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (value === null || value === undefined) return undefined;
  const text = value.trim();
  if (text === '') return undefined;
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // An HTTP-date names its day and month ("Wed, 21 Oct 2026 07:28:00 GMT"); a bare "-1" is not one.
  if (!/[a-z]/i.test(text)) return undefined;
  const date = Date.parse(text);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

function clampUnit(value: number): number {
  if (!Number.isFinite(value) || value < 0) return 0;
  return Math.min(value, 1);
}
