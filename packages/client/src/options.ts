import type { Operation } from '@trpc/client';
import type { DataTransformerOptions } from '@trpc/server/unstable-core-do-not-import';
import {
  checkOptions,
  isBoolean,
  isFunction,
  nonEmptyString,
  type OptionRule,
  type OptionRules,
  oneOf,
  wholeNumber,
} from '@trpc-idempotency/protocol';
import type { Jitter } from './backoff.js';
import type { AttemptEvent, IdempotencyResultMeta } from './events.js';
import { browserOnlineSource, type OnlineSource } from './online.js';
import { type ClientTelemetry, clientTelemetryProblem } from './telemetry.js';

/** The retry settings that can be set per client and per call (docs/protocol.md §4). */
export interface RetrySettings {
  /** Attempts in all, the first included. `IN_PROGRESS` answers do not count. Default 5. */
  attempts?: number;
  /** Delay before the first retry, before jitter. Default 250 ms. */
  baseDelayMs?: number;
  /** Cap on the backoff delay. A server's `Retry-After` is capped by `maxRetryAfterMs` instead. Default 5000 ms. */
  maxDelayMs?: number;
  /**
   * The longest wait a 429 or 503 may ask for with `Retry-After` (or `retryAfterMs`). A longer one is not
   * waited for at all: the call fails at once with that answer, as ky's `retry.maxRetryAfter` does.
   * Default 60 000 ms.
   */
  maxRetryAfterMs?: number;
  /**
   * How long a call keeps waiting out 409 `IN_PROGRESS` answers, from the first one: the time another
   * request with the same key may take to finish. These waits follow the server's `retryAfterMs` and do
   * not count against `attempts`. Default 35 000 ms (one 30 s lease and a margin); 0 makes `IN_PROGRESS` final.
   */
  maxInProgressWaitMs?: number;
  /** Each attempt is aborted and retried after this long. Default 10 000 ms; `Infinity` turns it off. */
  attemptTimeoutMs?: number;
  /** Default `'full'`. See {@link Jitter}. */
  jitter?: Jitter;
}

/** What a call may put under `context.idempotency` to change how its mutation is retried and to learn how it ended. */
export interface CallIdempotencyOptions extends RetrySettings {
  /**
   * Called once when this call succeeds, with its key, its number of attempts and whether the server
   * replayed a stored outcome. Every caller of a shared attempt sequence gets its own call. A throwing
   * hook never changes the outcome. `mutateWithMeta` is the typed way to use it: tRPC types the context
   * of `mutate()` as a plain record, so this hook's parameter needs its type written out.
   *
   * @example
   * await client.orders.create.mutate(cart, {
   *   context: { idempotencyKey, idempotency: { onResult: (meta: IdempotencyResultMeta) => meta.replayed && showInfo('Already placed.') } },
   * });
   */
  onResult?: (meta: IdempotencyResultMeta) => void;
}

/**
 * Where each mutation's key comes from, unless the caller passes `context.idempotencyKey`: a random UUID,
 * a hash of the call, or a key the server issues (docs/protocol.md §1).
 */
export type KeyStrategy = 'uuid' | 'derive' | 'server';

/**
 * Where a keyed mutation's key travels (docs/protocol.md §1b): in the request's headers, sent by the
 * terminating link (`idempotencyHeaders`), or in the operation's input, inside the envelope
 * `{ "~idempotency": { key }, input }` that the server's middleware takes off again.
 */
export type KeyPlacement = 'header' | 'input';

/** Runs `run` after `delayMs` and returns a function that cancels it. Tests pass one that records the delays. */
export type Schedule = (run: () => void, delayMs: number) => () => void;

/** Options of {@link idempotencyLink}. */
export interface IdempotencyLinkOptions extends RetrySettings {
  /**
   * `'uuid'` (default): a random key per mutation. `'derive'`: SHA-256 of `[user, path, serialized input]`.
   * `'server'`: one key per mutation from the server's key-issuing query (`keyProcedure`), asked for once
   * before the first attempt and reused by every retry.
   */
  key?: KeyStrategy;
  /**
   * `'header'` (default): the key stays in `op.context.idempotencyKey`, for the terminating link to send as
   * a header (`idempotencyHeaders`). `'input'`: each attempt also sends `op.input` wrapped in the envelope
   * `{ "~idempotency": { key }, input }`, for `wsLink`, whose operations carry no headers. The key is
   * derived from, and calls are shared by, the input as given; the caller gets the procedure's output as
   * usual. A procedure without the server's idempotency middleware would get the envelope as its input,
   * so such a client keys only idempotent procedures: narrow it with `filter`, or send the others with
   * `context.idempotency: false`.
   */
  keyIn?: KeyPlacement;
  /** The path of the server's key-issuing query, for `key: 'server'`. Default `'idempotencyKey'`. */
  keyProcedure?: string;
  /**
   * While the network is gone (`navigator.onLine` is false), wait for it instead of sending: an attempt
   * that fails while offline is not counted, and the next one goes out when the network is back. Default true.
   */
  pauseWhileOffline?: boolean;
  /** Where `pauseWhileOffline` learns of the network. Default: the browser's `navigator.onLine` and its events. */
  online?: OnlineSource;
  /** Who is acting, for `key: 'derive'`. Required there. */
  user?: string | ((op: Operation) => string | Promise<string>);
  /** The app's transformer (for example superjson), used to serialize the input for `key: 'derive'`. */
  transformer?: DataTransformerOptions;
  /** Narrows which mutations get a key. Every mutation does by default; queries and subscriptions never do. */
  filter?: (op: Operation) => boolean;
  /**
   * Calls in flight with the same path, key and input share one attempt sequence: one series of requests,
   * whose result every caller gets. That covers derived keys and a key the caller gives twice (a double
   * click on one intent). The first caller's retry settings drive the shared sequence. Default true.
   */
  dedupe?: boolean;
  /** Called at each attempt's start and end, with the planned delay before the next one. Must not throw. */
  onAttempt?: (event: AttemptEvent) => void;
  /**
   * One span per keyed call, with an event per attempt: `openTelemetry({ api })` from
   * `@trpc-idempotency/client/opentelemetry`, given the `@opentelemetry/api` module (docs/observability.md).
   * Off by default.
   */
  telemetry?: ClientTelemetry;
  /** Source of jitter, a number in `[0, 1)`. Default `Math.random`. */
  random?: () => number;
  /** How delays are waited for. Default `setTimeout`. */
  schedule?: Schedule;
}

/** Retry settings with every default filled in. */
export type ResolvedRetrySettings = Required<RetrySettings>;

/** {@link IdempotencyLinkOptions} after validation, with defaults filled in. */
export interface ResolvedLinkOptions {
  key: KeyStrategy;
  keyIn: KeyPlacement;
  keyProcedure: string;
  /** Absent when `pauseWhileOffline` is false. */
  online?: OnlineSource;
  user?: IdempotencyLinkOptions['user'];
  transformer?: DataTransformerOptions;
  filter: (op: Operation) => boolean;
  dedupe: boolean;
  onAttempt?: (event: AttemptEvent) => void;
  telemetry?: ClientTelemetry;
  random: () => number;
  schedule: Schedule;
  retry: ResolvedRetrySettings;
}

/** The defaults of docs/protocol.md §4, plus a per-attempt timeout and the two caps on server hints. */
export const DEFAULT_RETRY_SETTINGS: ResolvedRetrySettings = Object.freeze({
  attempts: 5,
  baseDelayMs: 250,
  maxDelayMs: 5000,
  maxRetryAfterMs: 60_000,
  maxInProgressWaitMs: 35_000,
  attemptTimeoutMs: 10_000,
  jitter: 'full',
});

const JITTERS: readonly Jitter[] = ['full', 'equal', 'none'];
const STRATEGIES: readonly KeyStrategy[] = ['uuid', 'derive', 'server'];
const PLACEMENTS: readonly KeyPlacement[] = ['header', 'input'];

const defaultSchedule: Schedule = (run, delayMs) => {
  const timer = setTimeout(run, delayMs);
  return () => clearTimeout(timer);
};

/** Checks link options at construction and throws a TypeError that names each bad one. */
export function resolveLinkOptions(options: IdempotencyLinkOptions | undefined): ResolvedLinkOptions {
  const given = checkOptions('idempotencyLink', options, LINK_RULES, (given, bad) => {
    if (given.key === 'derive' && (given.user === undefined || given.user === '')) {
      bad('user', "is required with key: 'derive'");
    }
    retryProblems(given, bad);
  });
  return {
    key: given.key ?? 'uuid',
    keyIn: given.keyIn ?? 'header',
    keyProcedure: given.keyProcedure ?? 'idempotencyKey',
    ...(given.pauseWhileOffline === false ? {} : { online: given.online ?? browserOnlineSource }),
    user: given.user,
    transformer: given.transformer,
    filter: given.filter ?? (() => true),
    dedupe: given.dedupe ?? true,
    onAttempt: given.onAttempt,
    ...(given.telemetry ? { telemetry: given.telemetry } : {}),
    random: given.random ?? Math.random,
    schedule: given.schedule ?? defaultSchedule,
    retry: withRetrySettings(DEFAULT_RETRY_SETTINGS, given),
  };
}

const delayRule: OptionRule = (value) =>
  typeof value === 'number' && Number.isFinite(value) && value >= 0
    ? undefined
    : 'must be a finite number of milliseconds, 0 or more';

/** The rules of the retry settings, per client and per call. */
const RETRY_RULES: OptionRules<RetrySettings> = {
  attempts: wholeNumber({ min: 1, max: 100 }),
  baseDelayMs: delayRule,
  maxDelayMs: delayRule,
  maxRetryAfterMs: delayRule,
  maxInProgressWaitMs: delayRule,
  attemptTimeoutMs: (value) =>
    typeof value === 'number' && !Number.isNaN(value) && value > 0
      ? undefined
      : 'must be a positive number of milliseconds, or Infinity',
  jitter: oneOf(JITTERS),
};

const LINK_RULES: OptionRules<IdempotencyLinkOptions> = {
  ...RETRY_RULES,
  key: oneOf(STRATEGIES),
  keyIn: oneOf(PLACEMENTS),
  keyProcedure: (value) => nonEmptyString(value) && 'must be a non-empty procedure path',
  pauseWhileOffline: isBoolean,
  online: (value) => {
    const online = value as Partial<OnlineSource> | null;
    return typeof online?.isOnline === 'function' && typeof online.subscribe === 'function'
      ? undefined
      : 'must have isOnline() and subscribe()';
  },
  user: (value) =>
    typeof value === 'string' || typeof value === 'function'
      ? undefined
      : 'must be a string or a function returning one',
  transformer: (value) => (isTransformer(value) ? undefined : 'must be a tRPC data transformer'),
  filter: isFunction,
  dedupe: isBoolean,
  onAttempt: isFunction,
  telemetry: (value) => clientTelemetryProblem(value),
  random: isFunction,
  schedule: isFunction,
};

/** The retry settings' rule that spans two of them. */
function retryProblems(given: RetrySettings, bad: (name: keyof RetrySettings, problem: string) => void): void {
  if (given.maxDelayMs !== undefined || given.baseDelayMs !== undefined) {
    const base = given.baseDelayMs ?? DEFAULT_RETRY_SETTINGS.baseDelayMs;
    const max = given.maxDelayMs ?? DEFAULT_RETRY_SETTINGS.maxDelayMs;
    if (max < base) bad('maxDelayMs', 'must not be less than "baseDelayMs"');
  }
}

function withRetrySettings(base: ResolvedRetrySettings, given: RetrySettings): ResolvedRetrySettings {
  const settings = { ...base };
  for (const name of Object.keys(RETRY_RULES) as Array<keyof RetrySettings>) {
    if (given[name] !== undefined) (settings as Record<string, unknown>)[name] = given[name];
  }
  return settings;
}

/** One call's `context.idempotency`, checked, with the client's retry settings under it. */
export interface ResolvedCallOptions {
  retry: ResolvedRetrySettings;
  onResult?: (meta: IdempotencyResultMeta) => void;
}

const CALL_RULES: OptionRules<CallIdempotencyOptions> = { ...RETRY_RULES, onResult: isFunction };

/** Checks one call's `context.idempotency` and throws a TypeError that names the bad setting. */
export function resolveCallOptions(
  base: ResolvedRetrySettings,
  perCall: CallIdempotencyOptions | undefined,
): ResolvedCallOptions {
  if (perCall === undefined) return { retry: base };
  const given = checkOptions('context.idempotency', perCall, CALL_RULES, (given, bad) => {
    const max = given.maxDelayMs ?? base.maxDelayMs;
    if (max < (given.baseDelayMs ?? base.baseDelayMs)) bad('maxDelayMs', 'must not be less than "baseDelayMs"');
  });
  const retry = withRetrySettings(base, given);
  return given.onResult ? { retry, onResult: given.onResult } : { retry };
}

// A transformer is `{ serialize, deserialize }` (superjson's default export is a class with static methods)
// or `{ input, output }`.
function isTransformer(value: unknown): boolean {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) return false;
  return canSerialize(value) || canSerialize((value as { input?: unknown }).input);
}

function canSerialize(part: unknown): boolean {
  return (
    (typeof part === 'object' || typeof part === 'function') &&
    part !== null &&
    typeof (part as { serialize?: unknown }).serialize === 'function'
  );
}
