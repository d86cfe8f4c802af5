import { type OptionRules, wholeNumber } from '@trpc-idempotency/protocol';

/**
 * How a duplicate waits for the holder of its key (docs/protocol.md §3): the `inProgress` option when it
 * is not `'reject'`. Every field is optional.
 */
export interface InProgressWait {
  /**
   * How long a duplicate that asks for nothing waits for the first call's outcome, in ms. 0 answers
   * 409 `IN_PROGRESS` at once, unless the request asks to wait (`Prefer: wait=<seconds>`). Default 0.
   */
  waitMs?: number;
  /**
   * The longest wait a request may ask for with `Prefer: wait=<seconds>` (RFC 7240), in ms; a longer one is
   * cut to this, and `Preference-Applied: wait=<seconds>` says what was honoured. Whole seconds only count:
   * below 1000 no asked-for wait is honoured. Default the larger of `waitMs` and 10 s.
   */
  maxWaitMs?: number;
  /**
   * With a store that wakes waiters (`watch`: MemoryStore, RedisStore, PostgresStore): how often a waiting
   * duplicate looks at the record again anyway, in case a notification was lost, in ms. Default 1000.
   * A store without `watch` is asked again on a timer instead (10 ms, doubling to 200 ms).
   */
  rereadMs?: number;
}

/** `inProgress` with its defaults filled in. */
export type ResolvedInProgress = 'reject' | Required<InProgressWait>;

/**
 * The default: no wait unless the request asks for one, and up to 10 s when it does. So the SDK's client,
 * which asks once it has met `IN_PROGRESS`, gets the outcome as soon as it is stored.
 */
export const DEFAULT_MAX_WAIT_MS = 10_000;
export const DEFAULT_REREAD_MS = 1000;

const WAIT_RULES: OptionRules<InProgressWait> = {
  waitMs: wholeNumber({ min: 0, unit: 'ms' }),
  maxWaitMs: wholeNumber({ min: 0, unit: 'ms' }),
  rereadMs: wholeNumber({ min: 1, unit: 'ms' }),
};

/** The rule of `inProgress`: `'reject'`, or an object of {@link InProgressWait} whose every problem is named. */
export function inProgressProblem(value: unknown): string | undefined {
  if (value === 'reject') return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return "must be 'reject' or { waitMs?, maxWaitMs?, rereadMs? } (whole numbers of ms)";
  }
  const problems: string[] = [];
  const given = value as Record<string, unknown>;
  for (const name of Object.keys(given)) {
    if (!Object.hasOwn(WAIT_RULES, name)) problems.push(`has an unknown field "${name}" (waitMs, maxWaitMs, rereadMs)`);
  }
  for (const [name, rule] of Object.entries(WAIT_RULES)) {
    if (given[name] === undefined) continue;
    const problem = rule(given[name]);
    if (problem) problems.push(`field "${name}" ${problem}`);
  }
  const { waitMs, maxWaitMs } = given;
  if (problems.length === 0 && typeof waitMs === 'number' && typeof maxWaitMs === 'number' && maxWaitMs < waitMs) {
    problems.push(`field "maxWaitMs" must be at least waitMs (${waitMs} ms)`);
  }
  return problems.length === 0 ? undefined : problems.join(', ');
}

/** Fills in the defaults of a checked `inProgress`. */
export function resolveInProgress(value: 'reject' | InProgressWait | undefined): ResolvedInProgress {
  if (value === 'reject') return 'reject';
  const waitMs = value?.waitMs ?? 0;
  return {
    waitMs,
    maxWaitMs: value?.maxWaitMs ?? Math.max(waitMs, DEFAULT_MAX_WAIT_MS),
    rereadMs: value?.rereadMs ?? DEFAULT_REREAD_MS,
  };
}

/** How long one duplicate waits, and the preference it honoured to do so, if any. */
export interface WaitPlan {
  waitMs: number;
  /** The whole seconds of `Prefer: wait` that were honoured, for `Preference-Applied`. */
  appliedSeconds?: number;
}

const NO_WAIT: WaitPlan = { waitMs: 0 };

/**
 * A duplicate's wait: what its request asked for with `Prefer: wait=<seconds>`, cut to `maxWaitMs`; or
 * `waitMs` when it asked for nothing. A request that asks for less than `waitMs` waits what it asked for.
 */
export function planWait(inProgress: ResolvedInProgress, preferWaitSeconds: number | undefined): WaitPlan {
  if (inProgress === 'reject') return NO_WAIT;
  if (preferWaitSeconds === undefined) return inProgress.waitMs === 0 ? NO_WAIT : { waitMs: inProgress.waitMs };
  const appliedSeconds = Math.min(preferWaitSeconds, Math.floor(inProgress.maxWaitMs / 1000));
  return appliedSeconds > 0 ? { waitMs: appliedSeconds * 1000, appliedSeconds } : NO_WAIT;
}
