import { randomUUID } from 'node:crypto';
import { IDEMPOTENT_REPLAYED_HEADER, PREFERENCE_APPLIED_HEADER, readEnvelope } from '@trpc-idempotency/protocol';
import { findCallKey } from './callKey.js';
import { claimOrWait, type SentClaim } from './claim.js';
import { DRAINING_RETRY_AFTER_MS, DrainGate, type DrainOptions, type DrainReport } from './drain.js';
import { IdempotencyError } from './errors.js';
import type { IdempotencyEvent } from './events.js';
import { fingerprintInput, recordKeyFor } from './hashing.js';
import { requireIssuedKey } from './keyIssuer.js';
import { Lease } from './lease.js';
import { type IdempotencyOptions, type ResolvedIdempotencyOptions, resolveOptions } from './options.js';
import { decodeOutcome, storedErrorToTRPCError } from './outcome.js';
import { preferredWaitSeconds } from './preferWait.js';
import type { IdempotencyRequest, IdempotencyRequestContext } from './requestContext.js';
import { inProgressRetryAfterMs } from './retryHint.js';
import { type IdempotencyHandlerContext, runUnderLease, type TransactionalHandlerContext } from './runUnderLease.js';
import { resolveScope } from './scope.js';
import {
  type IdempotencyStore,
  StoreFullError,
  StoreMisconfiguredError,
  type TransactionalStore,
  type TransactionClientOf,
} from './store/types.js';
import {
  type AnyResult,
  type CombinedDataTransformer,
  checkTrpcRelease,
  type MiddlewareFunction,
  RESULT_MARKER,
} from './trpcInternals.js';
import { planWait } from './waitOptions.js';

export type { IdempotencyHandlerContext, TransactionalHandlerContext } from './runUnderLease.js';

/**
 * The tRPC middleware that {@link createIdempotency} returns, with its shutdown hook; the handler finds
 * `THandlerContext` in `ctx.idempotency`.
 */
export type IdempotencyMiddleware<
  TContext,
  TRequired extends boolean,
  THandlerContext = IdempotencyHandlerContext,
> = MiddlewareFunction<
  TContext,
  any,
  object,
  { idempotency: TRequired extends false ? THandlerContext | null : THandlerContext },
  unknown
> & {
  /**
   * For a graceful shutdown: new keyed calls get 503 `SERVER_DRAINING` from now on, calls in flight get
   * `timeoutMs` (default 10 s) to finish and settle their lease, and the leases of handlers still running
   * then are released (their signal aborts first). Resolves to what it did and what it could not settle.
   * `drainIdempotency()` does the same for every middleware of the process.
   */
  drain(options?: DrainOptions): Promise<DrainReport>;
};

/** What `ctx.idempotency` is for a store and a value of the `transaction` option. */
export type HandlerContextFor<TStore, TTransaction extends boolean> = TTransaction extends true
  ? TransactionalHandlerContext<TransactionClientOf<TStore>>
  : IdempotencyHandlerContext;

const NEVER_ABORTED = new AbortController().signal;
const IGNORE_EVENT = (_event: Omit<IdempotencyEvent, 'path' | 'scope' | 'key'>): void => {};
/** How long a caller is asked to wait when the store is down. */
const STORE_RETRY_AFTER_MS = 1000;

/**
 * Makes a tRPC middleware that runs each keyed mutation once per `(scope, path, key)` and replays
 * its stored outcome to every retry.
 *
 * @example
 * const idempotency = createIdempotency({ store: new RedisStore({ redis }), scope: (ctx: Context) => ctx.user.id });
 * export const idempotentProcedure = t.procedure.use(idempotency);
 *
 * idempotentProcedure.input(z.object({ amount: z.number() })).mutation(({ ctx, input }) =>
 *   db.payments.insert({ ...input, fence: ctx.idempotency.fence }),
 * );
 *
 * // In your own PostgreSQL database: the handler's writes and the outcome commit together.
 * const payments = t.procedure.use(createIdempotency({ store: new PostgresStore({ pool }), scope, transaction: true }));
 * payments.mutation(({ ctx }) => ctx.idempotency.tx.query('INSERT INTO payments ...'));
 */
export function createIdempotency<
  TContext extends IdempotencyRequestContext,
  TRequired extends boolean = true,
  TStore extends IdempotencyStore = IdempotencyStore,
  TTransaction extends boolean = false,
>(
  options: IdempotencyOptions<TContext, TStore> & {
    required?: TRequired;
    transaction?: TTransaction;
  } & (TTransaction extends true ? { store: TransactionalStore } : unknown),
): IdempotencyMiddleware<TContext, TRequired, HandlerContextFor<TStore, TTransaction>> {
  checkTrpcRelease();
  const checked = resolveOptions(options);
  const telemetry = checked.telemetry?.forMiddleware(checked.store);
  // With telemetry, every store call goes through its timing wrapper; the checked options stay as they were.
  const config = telemetry ? { ...checked, store: telemetry.instrumentStore(checked.store) } : checked;
  const gate = new DrainGate(config.store);
  const middleware = async (opts: {
    ctx: TContext;
    type: string;
    path: string;
    batchIndex?: number;
    getRawInput: () => Promise<unknown>;
    signal: AbortSignal | undefined;
    next: (opts?: { ctx?: object; getRawInput?: () => Promise<unknown> }) => Promise<AnyResult>;
  }): Promise<AnyResult> => {
    if (opts.type !== 'mutation') return opts.next();
    const request = (opts.ctx as Partial<IdempotencyRequestContext> | undefined)?.idempotencyRequest;
    // A key may come in the input itself (docs/protocol.md §1b); the procedure's parsers get the input inside.
    const rawInput = await opts.getRawInput();
    const envelope = readEnvelope(rawInput);
    const input = envelope ? envelope.input : rawInput;
    const inner = envelope ? { getRawInput: () => Promise.resolve(input) } : undefined;
    const parsed = findCallKey({ request, envelopeKey: envelope?.key, batchIndex: opts.batchIndex });
    if (!parsed.ok) {
      if (parsed.code === 'KEY_MISSING' && !config.required) return opts.next({ ...inner, ctx: { idempotency: null } });
      throw new IdempotencyError(
        parsed.code,
        parsed.message,
        parsed.code === 'KEY_INVALID' ? { reason: parsed.reason } : {},
      );
    }
    if (config.issuedKeys) await requireIssuedKey(config.issuedKeys, parsed.key, opts.ctx);
    const transformer = config.serializer;
    // Most scope functions answer at once; only a promise is awaited.
    const scoped = resolveScope(
      config.scope,
      opts.ctx,
      'This mutation needs a known caller: its idempotency scope is empty.',
    );
    const scope = typeof scoped === 'string' ? scoped : await scoped;
    const observed = telemetry?.startCall(opts.path);
    // Without telemetry or an onEvent hook nobody listens: no per-request closure then.
    const emit =
      observed || config.onEvent
        ? (event: Omit<IdempotencyEvent, 'path' | 'scope' | 'key'>) => {
            observed?.event(event);
            report(config, { path: opts.path, scope, key: parsed.key }, event);
          }
        : IGNORE_EVENT;
    if (gate.draining) {
      gate.refused();
      emit({ type: 'draining', retryAfterMs: DRAINING_RETRY_AFTER_MS });
      observed?.end();
      setRetryAfter(request, DRAINING_RETRY_AFTER_MS);
      throw new IdempotencyError('SERVER_DRAINING', 'This server is shutting down; retry, on another one.', {
        retryAfterMs: DRAINING_RETRY_AFTER_MS,
      });
    }
    // From here to the end of its lease, the call counts for drain(): it may claim.
    const lease = new Lease(opts.path, parsed.key, transformer.output, emit, observed, gate);
    gate.enter(lease);
    try {
      const recordKey = recordKeyFor(config.namespace, scope, opts.path, parsed.key);
      observed?.record(recordKey);
      const fingerprint = fingerprintInput(transformer.input, input, {
        limits: config.limits,
        emit,
      });
      const token = randomUUID();

      // A duplicate waits as the server's inProgress option says, or as its request asks within it (§3).
      const wait = planWait(config.inProgress, request ? preferredWaitSeconds(request.prefer) : undefined);
      let sent: SentClaim;
      try {
        sent = await claimOrWait(config, { recordKey, fingerprint, token, signal: opts.signal, waitMs: wait.waitMs });
      } catch (error) {
        if (error instanceof StoreFullError) {
          // A full store answers; it refuses to forget. fail-open is for a store that cannot be reached, not this.
          emit({ type: 'storeFull', retryAfterMs: error.retryAfterMs });
          setRetryAfter(request, error.retryAfterMs);
          throw new IdempotencyError('STORE_FULL', 'The idempotency store is full; retry later.', {
            retryAfterMs: error.retryAfterMs,
          });
        }
        emit({ type: 'storeError', error });
        // fail-open runs the handler while a store is down; never on a store that would forget its records.
        if (config.onStoreError === 'fail-open' && !(error instanceof StoreMisconfiguredError)) {
          const unprotected = { ...inner, ctx: { idempotency: { key: parsed.key, fence: 0, signal: NEVER_ABORTED } } };
          return await (observed ? observed.inSpan(() => opts.next(unprotected)) : opts.next(unprotected));
        }
        setRetryAfter(request, STORE_RETRY_AFTER_MS);
        throw new IdempotencyError('STORE_UNAVAILABLE', 'The idempotency store is unavailable; retry later.', {
          retryAfterMs: STORE_RETRY_AFTER_MS,
          cause: error,
        });
      }

      const { claim, waitedMs } = sent;
      const waited = waitedMs === undefined ? {} : { waitedMs };
      if (waitedMs !== undefined && wait.appliedSeconds !== undefined) {
        setHeader(request, PREFERENCE_APPLIED_HEADER, `wait=${wait.appliedSeconds}`);
      }
      switch (claim.status) {
        case 'mismatch':
          emit({ type: 'mismatch', ...waited });
          throw new IdempotencyError(
            'PAYLOAD_MISMATCH',
            'This idempotency key was already used with a different input. Use a new key for a new intent.',
          );
        case 'in_progress': {
          const retryAfterMs = inProgressRetryAfterMs(claim);
          emit({ type: 'conflict', retryAfterMs, ...waited });
          setRetryAfter(request, retryAfterMs);
          throw new IdempotencyError('IN_PROGRESS', 'A request with this idempotency key is still running.', {
            retryAfterMs,
          });
        }
        case 'completed':
          emit({ type: 'replayed', ...waited });
          return replay(request, transformer, claim.outcome);
        case 'claimed':
          emit({ type: 'claimed', fence: claim.fence, ...waited });
          lease.claimed(
            { recordKey, token, fence: claim.fence, sentAt: sent.sentAt },
            'transaction' in claim ? claim.transaction : undefined,
          );
          return await runUnderLease(config, lease, (ctx) => {
            const nextOpts = { ...inner, ctx };
            return observed ? observed.inSpan(() => opts.next(nextOpts)) : opts.next(nextOpts);
          });
      }
    } finally {
      // A claimed call counts until its lease is settled, which may come later (the lease's own done()).
      if (lease.fence === 0) lease.done();
      observed?.end();
    }
  };
  return Object.assign(middleware, {
    drain: (drainOptions?: DrainOptions) => gate.drain(drainOptions),
  }) as unknown as IdempotencyMiddleware<TContext, TRequired, HandlerContextFor<TStore, TTransaction>>;
}

interface CallInfo {
  path: string;
  scope: string;
  key: string;
}

function replay(
  request: IdempotencyRequest | undefined,
  transformer: CombinedDataTransformer,
  text: string,
): AnyResult {
  if (request && request.callCount <= 1) request.setResponseHeader?.(IDEMPOTENT_REPLAYED_HEADER, 'true');
  const outcome = decodeOutcome(transformer.output, text);
  if (outcome.ok) return { ok: true, data: outcome.data, marker: RESULT_MARKER };
  return { ok: false, error: storedErrorToTRPCError(outcome.error), marker: RESULT_MARKER };
}

function setRetryAfter(request: IdempotencyRequest | undefined, retryAfterMs: number): void {
  setHeader(request, 'Retry-After', String(Math.max(1, Math.ceil(retryAfterMs / 1000))));
}

/** Sets a response header of an unbatched request: a batch's headers are shared by all its calls. */
function setHeader(request: IdempotencyRequest | undefined, name: string, value: string): void {
  if (request && request.callCount <= 1) request.setResponseHeader?.(name, value);
}

function report<TContext>(
  config: ResolvedIdempotencyOptions<TContext>,
  call: CallInfo,
  event: Omit<IdempotencyEvent, 'path' | 'scope' | 'key'>,
): void {
  if (!config.onEvent) return;
  try {
    config.onEvent({ ...event, path: call.path, scope: call.scope, key: call.key });
  } catch {
    // A logging hook must never change the answer.
  }
}
