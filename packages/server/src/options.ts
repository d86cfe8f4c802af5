import type { TRPCError } from '@trpc/server';
import { getHTTPStatusCodeFromError } from '@trpc/server/http';
import type { IdempotencyEvent } from './events.js';
import type { KeyIssuer } from './keyIssuer.js';
import type { ScopeFunction } from './scope.js';

import { resolveSizeLimits, type SizeLimitOptions, type SizeLimits } from './sizeLimits.js';
import { type IdempotencyStore, isTransactionalStore } from './store/types.js';
import { type IdempotencyTelemetry, telemetryProblem } from './telemetry/types.js';
import type { CombinedDataTransformer, DataTransformerOptions } from './trpcInternals.js';

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
  /** What a duplicate gets while the first request runs: `'reject'` (409, the default) or `{ waitMs }` for its outcome. */
  inProgress?: 'reject' | { waitMs: number };
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
  inProgress: 'reject' | { waitMs: number };
  onStoreError: 'fail-closed' | 'fail-open';
  shouldStoreError: (error: TRPCError) => boolean;
  /** `undefined` means the router's own transformer, found when a call arrives. */
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
  inProgress: 'reject',
  onStoreError: 'fail-closed',
  namespace: 'default',
} as const;

const KNOWN_OPTIONS = new Set([
  'store',
  'scope',
  'retentionMs',
  'leaseMs',
  'required',
  'inProgress',
  'onStoreError',
  'shouldStoreError',
  'serializer',
  'namespace',
  'onEvent',
  'issuedKeys',
  'transaction',
  'maxInputBytes',
  'maxOutcomeBytes',
  'onOutcomeTooLarge',
  'compressOutcomes',
  'telemetry',
]);

const STORE_METHODS = ['claim', 'complete', 'release', 'renewLease'] as const;

/** Checks the options and fills in defaults; bad options throw one `TypeError` that names each of them. */
export function resolveOptions<TContext>(
  options: IdempotencyOptions<TContext, IdempotencyStore>,
): ResolvedIdempotencyOptions<TContext> {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('createIdempotency(options): options must be an object with a store and a scope.');
  }
  const problems: string[] = [];
  const bad = (name: string, rule: string) => problems.push(`option "${name}" ${rule}`);
  const given = options as IdempotencyOptions<TContext> & Record<string, unknown>;

  const unknown = Object.keys(given).filter((name) => !KNOWN_OPTIONS.has(name));
  if (unknown.length > 0) {
    problems.push(`unknown option${unknown.length > 1 ? 's' : ''} ${unknown.map((name) => `"${name}"`).join(', ')}`);
  }
  const { store, scope } = given;
  if (!isObjectLike(store) || !STORE_METHODS.every((method) => typeof store[method] === 'function')) {
    bad('store', 'must be an idempotency store, such as new MemoryStore() or new RedisStore({ redis })');
  }
  if (scope !== 'global' && typeof scope !== 'function') {
    bad('scope', "must be a function of the context, or 'global' to share one scope on purpose");
  }
  const leaseMs = given.leaseMs ?? DEFAULTS.leaseMs;
  if (!Number.isInteger(leaseMs) || leaseMs < 30) bad('leaseMs', 'must be a whole number of ms, 30 or more');
  const retentionMs = given.retentionMs ?? DEFAULTS.retentionMs;
  if (!Number.isInteger(retentionMs) || retentionMs <= 0) {
    bad('retentionMs', 'must be a positive whole number of ms');
  } else if (Number.isInteger(leaseMs) && retentionMs < 2 * leaseMs) {
    // A record must outlive any holder that may still run, or a later claim would reuse its fence.
    bad('retentionMs', `must be at least twice leaseMs (${2 * leaseMs} ms)`);
  }
  const required = given.required ?? DEFAULTS.required;
  if (typeof required !== 'boolean') bad('required', 'must be true or false');
  const inProgress = given.inProgress ?? DEFAULTS.inProgress;
  if (inProgress !== 'reject' && !isWaitOption(inProgress)) {
    bad('inProgress', "must be 'reject' or { waitMs: number } with a positive whole waitMs");
  }
  const onStoreError = given.onStoreError ?? DEFAULTS.onStoreError;
  if (onStoreError !== 'fail-closed' && onStoreError !== 'fail-open') {
    bad('onStoreError', "must be 'fail-closed' or 'fail-open'");
  }
  for (const name of ['shouldStoreError', 'onEvent'] as const) {
    if (given[name] !== undefined && typeof given[name] !== 'function') bad(name, 'must be a function');
  }
  const serializer = given.serializer;
  if (serializer === undefined) {
    bad(
      'serializer',
      "is required: give the transformer of initTRPC.create({ transformer }) (for example superjson), or 'json' when the router has none",
    );
  } else if (serializer !== 'json' && !isTransformer(serializer)) {
    bad(
      'serializer',
      "must have serialize and deserialize (superjson itself fits), be a tRPC { input, output } transformer, or be 'json'",
    );
  }
  const issuedKeys = given.issuedKeys;
  if (issuedKeys !== undefined && !(isObjectLike(issuedKeys) && typeof issuedKeys.verify === 'function')) {
    bad('issuedKeys', 'must be a key issuer made by createKeyIssuer()');
  }
  const namespace = given.namespace ?? DEFAULTS.namespace;
  if (typeof namespace !== 'string' || namespace === '') bad('namespace', 'must be a non-empty string');
  const transaction = given.transaction ?? false;
  if (typeof transaction !== 'boolean') bad('transaction', 'must be true or false');
  else if (transaction && isObjectLike(store) && !isTransactionalStore(store as unknown as IdempotencyStore)) {
    bad('transaction', 'needs a store that runs transactions in your database, such as PostgresStore');
  } else if (transaction && onStoreError === 'fail-open') {
    // The handler's transaction lives in the store's database: when the store is down, so is it.
    bad(
      'transaction',
      "cannot be combined with onStoreError: 'fail-open' (the transaction lives in the store's database)",
    );
  }
  const limits = resolveSizeLimits(given as SizeLimitOptions, bad);
  const telemetryIssue = given.telemetry === undefined ? undefined : telemetryProblem(given.telemetry);
  if (telemetryIssue) bad('telemetry', telemetryIssue);

  if (problems.length > 0) throw new TypeError(`createIdempotency: ${problems.join('; ')}.`);
  return {
    store,
    transaction,
    scope,
    retentionMs,
    leaseMs,
    required,
    inProgress,
    onStoreError,
    shouldStoreError: given.shouldStoreError ?? storeClientErrors,
    serializer: combinedTransformer(serializer as DataTransformerOptions | 'json'),
    namespace,
    onEvent: given.onEvent,
    issuedKeys,
    limits,
    telemetry: given.telemetry,
  };
}

function isObjectLike(value: unknown): value is Record<string, unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null;
}

function isWaitOption(value: unknown): value is { waitMs: number } {
  if (!isObjectLike(value) || Object.keys(value).some((name) => name !== 'waitMs')) return false;
  return Number.isInteger(value.waitMs) && (value.waitMs as number) > 0;
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
