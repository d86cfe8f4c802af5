import type { Operation } from '@trpc/client';
import type { DataTransformerOptions } from '@trpc/server/unstable-core-do-not-import';
import type { Jitter } from './backoff.js';
import type { CallIdempotencyOptions } from './context.js';
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

/** Checks link options at construction and throws a TypeError that names the bad one. */
export function resolveLinkOptions(options: IdempotencyLinkOptions | undefined): ResolvedLinkOptions {
  if (options === undefined) options = {};
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('idempotencyLink(options): options must be an object.');
  }
  const key = options.key ?? 'uuid';
  if (!STRATEGIES.includes(key)) {
    throw new TypeError(`idempotencyLink: option "key" must be 'uuid', 'derive' or 'server'.`);
  }
  const keyIn = options.keyIn ?? 'header';
  if (!PLACEMENTS.includes(keyIn)) {
    throw new TypeError(`idempotencyLink: option "keyIn" must be 'header' or 'input'.`);
  }
  const keyProcedure = options.keyProcedure ?? 'idempotencyKey';
  if (typeof keyProcedure !== 'string' || keyProcedure === '') {
    throw new TypeError('idempotencyLink: option "keyProcedure" must be a non-empty procedure path.');
  }
  if (options.pauseWhileOffline !== undefined && typeof options.pauseWhileOffline !== 'boolean') {
    throw new TypeError('idempotencyLink: option "pauseWhileOffline" must be a boolean.');
  }
  const online = options.online ?? browserOnlineSource;
  if (typeof online?.isOnline !== 'function' || typeof online.subscribe !== 'function') {
    throw new TypeError('idempotencyLink: option "online" must have isOnline() and subscribe().');
  }
  if (options.user !== undefined && typeof options.user !== 'string' && typeof options.user !== 'function') {
    throw new TypeError('idempotencyLink: option "user" must be a string or a function returning one.');
  }
  if (key === 'derive' && (options.user === undefined || options.user === '')) {
    throw new TypeError(`idempotencyLink: option "user" is required with key: 'derive'.`);
  }
  if (options.transformer !== undefined && !isTransformer(options.transformer)) {
    throw new TypeError('idempotencyLink: option "transformer" must be a tRPC data transformer.');
  }
  for (const name of ['filter', 'onAttempt', 'random', 'schedule'] as const) {
    if (options[name] !== undefined && typeof options[name] !== 'function') {
      throw new TypeError(`idempotencyLink: option "${name}" must be a function.`);
    }
  }
  if (options.dedupe !== undefined && typeof options.dedupe !== 'boolean') {
    throw new TypeError('idempotencyLink: option "dedupe" must be a boolean.');
  }
  const telemetryProblem = options.telemetry === undefined ? undefined : clientTelemetryProblem(options.telemetry);
  if (telemetryProblem) throw new TypeError(`idempotencyLink: option "telemetry" ${telemetryProblem}.`);
  return {
    key,
    keyIn,
    keyProcedure,
    ...(options.pauseWhileOffline === false ? {} : { online }),
    user: options.user,
    transformer: options.transformer,
    filter: options.filter ?? (() => true),
    dedupe: options.dedupe ?? true,
    onAttempt: options.onAttempt,
    ...(options.telemetry ? { telemetry: options.telemetry } : {}),
    random: options.random ?? Math.random,
    schedule: options.schedule ?? defaultSchedule,
    retry: resolveRetrySettings(DEFAULT_RETRY_SETTINGS, options, 'idempotencyLink: option'),
  };
}

/**
 * Lays `overrides` over `base` and checks each number. `label` begins the error message, so that a
 * per-call mistake is named as `context.idempotency.attempts`.
 */
export function resolveRetrySettings(
  base: ResolvedRetrySettings,
  overrides: RetrySettings | undefined,
  label: string,
): ResolvedRetrySettings {
  if (overrides === undefined) return base;
  if (typeof overrides !== 'object' || overrides === null) throw new TypeError(`${label} must be an object.`);
  const settings = { ...base };
  const { attempts, baseDelayMs, maxDelayMs, maxRetryAfterMs, maxInProgressWaitMs, attemptTimeoutMs, jitter } =
    overrides;
  if (attempts !== undefined) {
    if (!Number.isInteger(attempts) || attempts < 1 || attempts > 100) {
      throw new TypeError(`${label} "attempts" must be an integer from 1 to 100.`);
    }
    settings.attempts = attempts;
  }
  if (baseDelayMs !== undefined) settings.baseDelayMs = checkDelay(baseDelayMs, `${label} "baseDelayMs"`);
  if (maxDelayMs !== undefined) settings.maxDelayMs = checkDelay(maxDelayMs, `${label} "maxDelayMs"`);
  if (maxRetryAfterMs !== undefined) {
    settings.maxRetryAfterMs = checkDelay(maxRetryAfterMs, `${label} "maxRetryAfterMs"`);
  }
  if (maxInProgressWaitMs !== undefined) {
    settings.maxInProgressWaitMs = checkDelay(maxInProgressWaitMs, `${label} "maxInProgressWaitMs"`);
  }
  if (attemptTimeoutMs !== undefined) {
    if (typeof attemptTimeoutMs !== 'number' || Number.isNaN(attemptTimeoutMs) || attemptTimeoutMs <= 0) {
      throw new TypeError(`${label} "attemptTimeoutMs" must be a positive number of milliseconds, or Infinity.`);
    }
    settings.attemptTimeoutMs = attemptTimeoutMs;
  }
  if (jitter !== undefined) {
    if (!JITTERS.includes(jitter)) throw new TypeError(`${label} "jitter" must be 'full', 'equal' or 'none'.`);
    settings.jitter = jitter;
  }
  if (settings.maxDelayMs < settings.baseDelayMs) {
    throw new TypeError(`${label} "maxDelayMs" must not be less than "baseDelayMs".`);
  }
  return settings;
}

/** One call's `context.idempotency`, checked, with the client's retry settings under it. */
export interface ResolvedCallOptions {
  retry: ResolvedRetrySettings;
  onResult?: (meta: IdempotencyResultMeta) => void;
}

/** Checks one call's `context.idempotency` and throws a TypeError that names the bad setting. */
export function resolveCallOptions(
  base: ResolvedRetrySettings,
  perCall: CallIdempotencyOptions | undefined,
): ResolvedCallOptions {
  const label = 'context.idempotency:';
  const retry = resolveRetrySettings(base, perCall, label);
  const onResult = perCall?.onResult;
  if (onResult !== undefined && typeof onResult !== 'function') {
    throw new TypeError(`${label} "onResult" must be a function.`);
  }
  return onResult ? { retry, onResult } : { retry };
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

function checkDelay(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new TypeError(`${name} must be a finite number of milliseconds, 0 or more.`);
  }
  return value;
}
