import { randomUUID } from 'node:crypto';
import { TRPCError } from '@trpc/server';
import type { MiddlewareFunction, MiddlewareResult } from '@trpc/server/unstable-core-do-not-import';
import { IDEMPOTENT_REPLAYED_HEADER, parseIdempotencyKey } from '@trpc-idempotency/protocol';
import { IdempotencyError } from './errors.js';
import type { IdempotencyEvent } from './events.js';
import { fingerprintInput, recordKeyFor } from './hashing.js';
import { keepLease } from './leaseKeeper.js';
import { type IdempotencyOptions, type ResolvedIdempotencyOptions, resolveOptions } from './options.js';
import { decodeOutcome, encodeOutcome, storedErrorToTRPCError } from './outcome.js';
import type { IdempotencyRequest, IdempotencyRequestContext } from './requestContext.js';
import { settleLease } from './settleLease.js';
import type { ClaimResult } from './store/types.js';

/** What a handler finds in `ctx.idempotency` while it runs an idempotent mutation. */
export interface IdempotencyHandlerContext {
  /** The client's key for this intent. */
  key: string;
  /**
   * Grows with every claim of this key. Pass it to your own database writes and reject a write whose
   * fence is lower than the last one seen, so a holder that lost its lease cannot write after a newer one.
   * It is 0 when the store was down and `onStoreError: 'fail-open'` let the call run unprotected.
   */
  fence: number;
  /** Aborts when the lease is lost, so the handler can stop before its side effects. */
  signal: AbortSignal;
}

/** The tRPC middleware that {@link createIdempotency} returns. */
export type IdempotencyMiddleware<TContext, TRequired extends boolean> = MiddlewareFunction<
  TContext,
  any,
  object,
  { idempotency: TRequired extends false ? IdempotencyHandlerContext | null : IdempotencyHandlerContext },
  unknown
>;

type AnyResult = MiddlewareResult<any>;
const marker = 'middlewareMarker' as AnyResult['marker'];
const NEVER_ABORTED = new AbortController().signal;

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
 */
export function createIdempotency<TContext extends IdempotencyRequestContext, TRequired extends boolean = true>(
  options: IdempotencyOptions<TContext> & { required?: TRequired },
): IdempotencyMiddleware<TContext, TRequired> {
  const config = resolveOptions(options);
  const middleware = async (opts: {
    ctx: TContext;
    type: string;
    path: string;
    getRawInput: () => Promise<unknown>;
    signal: AbortSignal | undefined;
    next: (opts?: { ctx: object }) => Promise<AnyResult>;
  }): Promise<AnyResult> => {
    if (opts.type !== 'mutation') return opts.next();
    const request = readRequest(opts.ctx);
    const parsed = parseIdempotencyKey(...request.keyHeaders);
    if (!parsed.ok) {
      if (parsed.code === 'KEY_MISSING' && !config.required) return opts.next({ ctx: { idempotency: null } });
      throw new IdempotencyError(parsed.code, parsed.message);
    }
    const scope = await resolveScope(config, opts.ctx);
    const call: CallInfo = { request, path: opts.path, scope, key: parsed.key };
    const recordKey = recordKeyFor(config.namespace, scope, opts.path, parsed.key);
    const fingerprint = fingerprintInput(config.serializer, await opts.getRawInput());
    const token = randomUUID();

    let claim: ClaimResult;
    try {
      claim = await claimOrWait(config, { recordKey, fingerprint, token, signal: opts.signal });
    } catch (error) {
      emit(config, call, { type: 'storeError', error });
      if (config.onStoreError === 'fail-open') {
        return opts.next({ ctx: { idempotency: { key: parsed.key, fence: 0, signal: NEVER_ABORTED } } });
      }
      setRetryAfter(request, 1000);
      throw new IdempotencyError('STORE_UNAVAILABLE', 'The idempotency store is unavailable; retry later.', {
        retryAfterMs: 1000,
        cause: error,
      });
    }

    switch (claim.status) {
      case 'mismatch':
        emit(config, call, { type: 'mismatch' });
        throw new IdempotencyError(
          'PAYLOAD_MISMATCH',
          'This idempotency key was already used with a different input. Use a new key for a new intent.',
        );
      case 'in_progress':
        emit(config, call, { type: 'conflict', retryAfterMs: claim.retryAfterMs });
        setRetryAfter(request, claim.retryAfterMs);
        throw new IdempotencyError('IN_PROGRESS', 'A request with this idempotency key is still running.', {
          retryAfterMs: claim.retryAfterMs,
        });
      case 'completed':
        emit(config, call, { type: 'replayed' });
        return replay(config, request, claim.outcome);
      case 'claimed':
        emit(config, call, { type: 'claimed', fence: claim.fence });
        return runClaimed(config, call, { recordKey, token, fence: claim.fence, next: opts.next });
    }
  };
  return middleware as unknown as IdempotencyMiddleware<TContext, TRequired>;
}

interface CallInfo {
  request: IdempotencyRequest;
  path: string;
  scope: string;
  key: string;
}

function readRequest(ctx: unknown): IdempotencyRequest {
  const request = (ctx as Partial<IdempotencyRequestContext> | undefined)?.idempotencyRequest;
  if (!request) {
    throw new TRPCError({
      code: 'INTERNAL_SERVER_ERROR',
      message:
        'ctx.idempotencyRequest is missing: spread nodeIdempotencyContext(opts) or fetchIdempotencyContext(opts) into createContext.',
    });
  }
  return request;
}

async function resolveScope<TContext>(config: ResolvedIdempotencyOptions<TContext>, ctx: TContext): Promise<string> {
  if (config.scope === 'global') return 'global';
  const scope = await config.scope(ctx);
  if (scope === null || scope === undefined || scope === '') {
    throw new TRPCError({
      code: 'UNAUTHORIZED',
      message: 'This mutation needs a known caller: its idempotency scope is empty.',
    });
  }
  return `scope:${scope}`;
}

/** Claims the record; with `inProgress: { waitMs }`, keeps asking until the first holder's outcome is stored. */
async function claimOrWait<TContext>(
  config: ResolvedIdempotencyOptions<TContext>,
  args: { recordKey: string; fingerprint: string; token: string; signal: AbortSignal | undefined },
): Promise<ClaimResult> {
  const request = { ...args, leaseMs: config.leaseMs, retentionMs: config.retentionMs };
  let claim = await config.store.claim(request);
  if (config.inProgress === 'reject') return claim;
  const deadline = performance.now() + config.inProgress.waitMs;
  let pollMs = 10;
  while (claim.status === 'in_progress' && !args.signal?.aborted) {
    const remaining = deadline - performance.now();
    if (remaining <= 0) break;
    await sleep(Math.min(pollMs, claim.retryAfterMs, remaining));
    pollMs = Math.min(pollMs * 2, 200);
    claim = await config.store.claim(request);
  }
  return claim;
}

async function runClaimed<TContext>(
  config: ResolvedIdempotencyOptions<TContext>,
  call: CallInfo,
  lease: { recordKey: string; token: string; fence: number; next: (opts: { ctx: object }) => Promise<AnyResult> },
): Promise<AnyResult> {
  const { recordKey, token, fence } = lease;
  const keeper = keepLease({
    store: config.store,
    recordKey,
    token,
    leaseMs: config.leaseMs,
    onLost: (error) => emit(config, call, { type: 'leaseLost', fence, error }),
  });
  let result: AnyResult;
  try {
    result = await lease.next({ ctx: { idempotency: { key: call.key, fence, signal: keeper.signal } } });
  } finally {
    keeper.stop();
  }

  const outcome = encodeStorable(config, result);
  // The handler's work is done and cannot be undone: answer with it now. If the store is down,
  // settleLease keeps trying for one lease length, so a short outage does not lose this outcome.
  await settleLease({
    call: () =>
      outcome !== undefined
        ? config.store.complete({ recordKey, token, outcome, retentionMs: config.retentionMs })
        : config.store.release({ recordKey, token }),
    leaseMs: config.leaseMs,
    onSettled: (applied) => {
      const done = outcome !== undefined ? 'completed' : 'released';
      emit(
        config,
        call,
        applied
          ? { type: done, fence }
          : { type: 'leaseLost', fence, error: `${done === 'completed' ? 'completion' : 'release'} refused` },
      );
    },
    onStoreError: (error) => emit(config, call, { type: 'storeError', fence, error }),
  });
  return result;
}

/** The outcome text to store, or `undefined` when this result must not be replayed and the lease is released. */
function encodeStorable<TContext>(config: ResolvedIdempotencyOptions<TContext>, result: AnyResult): string | undefined {
  if (!result.ok && !config.shouldStoreError(result.error)) return undefined;
  try {
    return encodeOutcome(
      config.serializer,
      result.ok
        ? { ok: true, data: result.data }
        : { ok: false, error: { code: result.error.code, message: result.error.message } },
    );
  } catch {
    // An outcome the serializer cannot write cannot be replayed; releasing lets a retry run again
    // instead of blocking it for a whole lease.
    return undefined;
  }
}

function replay<TContext>(
  config: ResolvedIdempotencyOptions<TContext>,
  request: IdempotencyRequest,
  text: string,
): AnyResult {
  if (!request.batched) request.setResponseHeader?.(IDEMPOTENT_REPLAYED_HEADER, 'true');
  const outcome = decodeOutcome(config.serializer, text);
  if (outcome.ok) return { ok: true, data: outcome.data, marker };
  return { ok: false, error: storedErrorToTRPCError(outcome.error), marker };
}

function setRetryAfter(request: IdempotencyRequest, retryAfterMs: number): void {
  if (!request.batched) request.setResponseHeader?.('Retry-After', String(Math.max(1, Math.ceil(retryAfterMs / 1000))));
}

function emit<TContext>(
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

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
