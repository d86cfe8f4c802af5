import type { TRPCError } from '@trpc/server';
import { getHTTPStatusCodeFromError } from '@trpc/server/http';
import {
  checkOptions,
  isBoolean,
  isFunction,
  nonEmptyString,
  type OptionRules,
  oneOf,
  required,
  wholeNumber,
} from '@trpc-idempotency/protocol';
import type { IdempotencyEvent } from './events.js';
import type { KeyIssuer } from './keyIssuer.js';
import type { ScopeFunction } from './scope.js';

import { SIZE_LIMIT_RULES, type SizeLimitOptions, type SizeLimits, sizeLimits } from './sizeLimits.js';
import { type IdempotencyStore, isTransactionalStore } from './store/types.js';
import { type IdempotencyTelemetry, telemetryProblem } from './telemetry/types.js';
import type { CombinedDataTransformer, DataTransformerOptions } from './trpcInternals.js';
import { type InProgressWait, inProgressProblem, type ResolvedInProgress, resolveInProgress } from './waitOptions.js';

/** Options of {@link createIdempotency}. */
export interface IdempotencyOptions<TContext, TStore extends IdempotencyStore = IdempotencyStore> {
  /**
   * Where records live: `new MemoryStore()` for one process, `new RedisStore({ redis })` for many, or
   * `new PostgresStore({ pool })` (package `@trpc-idempotency/postgres`) in the app's own database.
   */
  store: TStore;
  /**
   * Whose key it is. Two scopes never see each other's records, even with the same key.
   * `'global'` shares one scope between all callers, and must be chosen on purpose.
   */
  scope: ScopeFunction<TContext> | 'global';
  /** How long a completed outcome is replayed, in ms. At least twice `leaseMs`. Default 24 h. */
  retentionMs?: number;
  /** How long a holder's lease lasts without renewal, in ms. It is renewed at a third of this. Default 30 s. */
  leaseMs?: number;
  /** Whether a mutation without a key is rejected with 400 `KEY_MISSING`. Default `true`. */
  required?: boolean;
  /**
   * What a duplicate gets while the first request runs (docs/protocol.md §3). By default it gets 409
   * `IN_PROGRESS` at once, unless its request asks to wait with `Prefer: wait=<seconds>` (as the SDK's
   * client does after a first 409): then it waits, up to 10 s, for the first call's outcome and answers
   * with it. `{ waitMs, maxWaitMs, rereadMs }` sets how long a duplicate waits by itself, the most a request
   * may ask for, and how often a waiter looks again in case a notification was lost ({@link InProgressWait}).
   * `'reject'` never waits, whatever the request asks.
   */
  inProgress?: 'reject' | InProgressWait;
  /** When the store cannot be reached: `'fail-closed'` answers 503 (the default), `'fail-open'` runs the handler unprotected. */
  onStoreError?: 'fail-closed' | 'fail-open';
  /** Which errors a handler throws are stored and replayed. Default: 4xx, except 408, 429 and 499. */
  shouldStoreError?: (error: TRPCError) => boolean;
  /**
   * How outcomes and inputs are serialized: the transformer given to `initTRPC.create({ transformer })`
   * (superjson, its default export or an instance, or any `{ serialize, deserialize }` or tRPC
   * `{ input, output }` transformer), so that a replay answers as the first call did and types registered
   * with it survive; `'json'` when the router has no transformer. tRPC does not tell a middleware its
   * router's transformer, so it is given here, as it is given to the client's links.
   */
  serializer: DataTransformerOptions | 'json';
  /** Separates the records of several apps that share one store. Default `'default'`. */
  namespace?: string;
  /**
   * Run the handler inside a transaction of the store's own database, and complete the record in that
   * same transaction (docs/protocol.md §5): the handler's writes and the stored outcome commit together
   * or not at all, so a holder that lost its lease cannot commit. The handler writes through
   * `ctx.idempotency.tx`. Needs a store that offers transactions (`PostgresStore`). Default `false`.
   */
  transaction?: boolean;
  /** Called at each step, for logs and metrics. It must not throw; errors it throws are ignored. */
  onEvent?: (event: IdempotencyEvent) => void;
  /**
   * Accept only keys this issuer (`createKeyIssuer`) issued for the caller's scope; any other key gets 400
   * `KEY_INVALID` with a `reason` (`not_issued`, `signature`, `expired`). Default: any well-formed key.
   */
  issuedKeys?: KeyIssuer<TContext>;
  /**
   * Keyed inputs larger than this, as canonical JSON in UTF-8 bytes, are refused with 413 `INPUT_TOO_LARGE`
   * before the claim. `Infinity` turns the check off. Default 1 MiB.
   */
  maxInputBytes?: number;
  /** Outcomes larger than this, serialized, are never stored (see `onOutcomeTooLarge`). Default 1 MiB. */
  maxOutcomeBytes?: number;
  /**
   * What happens to an outcome over `maxOutcomeBytes`. `'error'` (default): a small `OUTCOME_TOO_LARGE` error
   * (500) is stored and answered instead, to this call and every retry, so the handler still runs once.
   * `'release'`: this call gets its result and the lease is released, so a retry runs the handler again.
   */
  onOutcomeTooLarge?: 'error' | 'release';
  /** Stores outcomes of at least `aboveBytes` Brotli-compressed. `true` means above 8 KiB. Default `false`. */
  compressOutcomes?: boolean | { aboveBytes: number };
  /**
   * Spans and metrics: `openTelemetry({ api })` from `@trpc-idempotency/server/opentelemetry`, given the
   * `@opentelemetry/api` module (docs/observability.md). Off by default; the package never imports OpenTelemetry.
   */
  telemetry?: IdempotencyTelemetry;
}

/** The options with their defaults filled in. */
export interface ResolvedIdempotencyOptions<TContext> {
  store: IdempotencyStore;
  transaction: boolean;
  scope: ScopeFunction<TContext> | 'global';
  retentionMs: number;
  leaseMs: number;
  required: boolean;
  inProgress: ResolvedInProgress;
  onStoreError: 'fail-closed' | 'fail-open';
  shouldStoreError: (error: TRPCError) => boolean;
  serializer: CombinedDataTransformer;
  namespace: string;
  onEvent: ((event: IdempotencyEvent) => void) | undefined;
  issuedKeys: KeyIssuer<TContext> | undefined;
  limits: SizeLimits;
  telemetry: IdempotencyTelemetry | undefined;
}

const TRANSIENT_CLIENT_ERRORS = new Set([408, 429, 499]);

/** The default for `shouldStoreError`: errors a client caused on purpose are final, transient ones are not. */
export function storeClientErrors(error: TRPCError): boolean {
  const status = getHTTPStatusCodeFromError(error);
  return status >= 400 && status < 500 && !TRANSIENT_CLIENT_ERRORS.has(status);
}

const DEFAULTS = {
  retentionMs: 24 * 60 * 60 * 1000,
  leaseMs: 30_000,
  required: true,
  onStoreError: 'fail-closed',
  namespace: 'default',
} as const;

/** The leases a holder can keep: renewed at a third of their length, with the abort margin inside the rest. */
const MIN_LEASE_MS = 60;
const STORE_METHODS = ['claim', 'complete', 'release', 'renewLease'] as const;
const STORE_RULE = 'must be an idempotency store, such as new MemoryStore() or new RedisStore({ redis })';
const SCOPE_RULE = "must be a function of the context, or 'global' to share one scope on purpose";

const rule = {
  store: required(
    (value) =>
      isObjectLike(value) && STORE_METHODS.every((method) => typeof value[method] === 'function')
        ? undefined
        : STORE_RULE,
    STORE_RULE,
  ),
  scope: required((value) => (value === 'global' || typeof value === 'function' ? undefined : SCOPE_RULE), SCOPE_RULE),
  retentionMs: wholeNumber({ min: 1, unit: 'ms' }),
  leaseMs: (value: unknown) =>
    typeof value === 'number' && Number.isInteger(value) && value >= MIN_LEASE_MS
      ? undefined
      : `must be a whole number of ms, ${MIN_LEASE_MS} or more: it is renewed at a third of its length, and its signal aborts max(20 ms, lease / 10) before it runs out (got ${String(value)})`,
  required: isBoolean,
  inProgress: inProgressProblem,
  onStoreError: oneOf(['fail-closed', 'fail-open']),
  shouldStoreError: isFunction,
  serializer: required(
    (value) =>
      value === 'json' || isTransformer(value)
        ? undefined
        : "must have serialize and deserialize (superjson itself fits), be a tRPC { input, output } transformer, or be 'json'",
    "is required: give the transformer of initTRPC.create({ transformer }) (for example superjson), or 'json' when the router has none",
  ),
  namespace: nonEmptyString,
  onEvent: isFunction,
  issuedKeys: (value: unknown) =>
    isObjectLike(value) && typeof value.verify === 'function'
      ? undefined
      : 'must be a key issuer made by createKeyIssuer()',
  transaction: isBoolean,
  telemetry: (value: unknown) => telemetryProblem(value),
  ...SIZE_LIMIT_RULES,
} satisfies OptionRules<IdempotencyOptions<unknown> & SizeLimitOptions>;

/** Checks the options and fills in defaults; bad options throw one `TypeError` that names each of them. */
export function resolveOptions<TContext>(
  options: IdempotencyOptions<TContext, IdempotencyStore>,
): ResolvedIdempotencyOptions<TContext> {
  const given = checkOptions('createIdempotency', options, rule as OptionRules<typeof options>, (given, bad) => {
    const leaseMs = given.leaseMs ?? DEFAULTS.leaseMs;
    const retentionMs = given.retentionMs ?? DEFAULTS.retentionMs;
    // A record must outlive any holder that may still run, or a later claim would reuse its fence.
    if (retentionMs < 2 * leaseMs) bad('retentionMs', `must be at least twice leaseMs (${2 * leaseMs} ms)`);
    if (given.transaction === true && !isTransactionalStore(given.store)) {
      bad('transaction', 'needs a store that runs transactions in your database, such as PostgresStore');
    } else if (given.transaction === true && given.onStoreError === 'fail-open') {
      // The handler's transaction lives in the store's database: when the store is down, so is it.
      bad(
        'transaction',
        "cannot be combined with onStoreError: 'fail-open' (the transaction lives in the store's database)",
      );
    }
  });
  return {
    store: given.store,
    transaction: given.transaction ?? false,
    scope: given.scope,
    retentionMs: given.retentionMs ?? DEFAULTS.retentionMs,
    leaseMs: given.leaseMs ?? DEFAULTS.leaseMs,
    required: given.required ?? DEFAULTS.required,
    inProgress: resolveInProgress(given.inProgress),
    onStoreError: given.onStoreError ?? DEFAULTS.onStoreError,
    shouldStoreError: given.shouldStoreError ?? storeClientErrors,
    serializer: combinedTransformer(given.serializer),
    namespace: given.namespace ?? DEFAULTS.namespace,
    onEvent: given.onEvent,
    issuedKeys: given.issuedKeys,
    limits: sizeLimits(given as SizeLimitOptions),
    telemetry: given.telemetry,
  };
}

function isObjectLike(value: unknown): value is Record<string, unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null;
}

// superjson's default export is a class whose static methods serialize, so a function fits too.
function canSerialize(value: unknown): boolean {
  return isObjectLike(value) && typeof value.serialize === 'function' && typeof value.deserialize === 'function';
}

function isTransformer(value: unknown): value is DataTransformerOptions {
  if (canSerialize(value)) return true;
  return isObjectLike(value) && canSerialize(value.input) && canSerialize(value.output);
}

/** tRPC's own (JSON) behaviour for `'json'`: values go to the wire as they are. */
const JSON_TRANSFORMER: CombinedDataTransformer = {
  input: { serialize: (value) => value, deserialize: (value) => value },
  output: { serialize: (value) => value, deserialize: (value) => value },
};

function combinedTransformer(serializer: DataTransformerOptions | 'json'): CombinedDataTransformer {
  if (serializer === 'json') return JSON_TRANSFORMER;
  return 'input' in serializer ? serializer : { input: serializer, output: serializer };
}
