/** How the planned delay is spread around the exponential curve. */
export type Jitter = 'full' | 'equal' | 'none';

/** The numbers that decide how long to wait before a retry. */
export interface BackoffSettings {
  /** The delay before the first retry, before jitter. */
  baseDelayMs: number;
  /** No delay is ever longer than this, `Retry-After` included. */
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

/**
 * Plans the wait before retry `n`: the jittered backoff, raised to what the server asked for
 * (`Retry-After` or `retryAfterMs`), and never above the cap.
 */
export function planRetryDelay(
  retry: number,
  settings: BackoffSettings,
  serverRetryAfterMs: number | undefined,
  random: () => number = Math.random,
): number {
  const backoff = backoffDelay(retry, settings, random);
  const asked = serverRetryAfterMs !== undefined && serverRetryAfterMs > 0 ? serverRetryAfterMs : 0;
  return Math.min(settings.maxDelayMs, Math.max(backoff, Math.ceil(asked)));
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
