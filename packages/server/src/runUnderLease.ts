import type { MiddlewareResult } from '@trpc/server/unstable-core-do-not-import';
import type { IdempotencyEvent } from './events.js';
import { keepLease } from './leaseKeeper.js';
import type { ResolvedIdempotencyOptions } from './options.js';
import { encodeOutcome, type Serializer } from './outcome.js';
import type { ProcedureFacts } from './procedureFacts.js';
import { settleLease } from './settleLease.js';

type AnyResult = MiddlewareResult<any>;

/** What a handler finds in `ctx.idempotency` while it runs an idempotent mutation. */
export interface IdempotencyHandlerContext {
  /** The client's key for this intent. */
  readonly key: string;
  /**
   * Grows with every claim of this key. Pass it to your own database writes and reject a write whose
   * fence is lower than the last one seen, so a holder that lost its lease cannot write after a newer one.
   * It is 0 when the store was down and `onStoreError: 'fail-open'` let the call run unprotected.
   */
  readonly fence: number;
  /**
   * Aborts before this holder's lease can run out in the store, so before any other request can take
   * the intent over: when renewals have not been confirmed for the lease's length less a safety margin,
   * or when the store says another holder has it. Check it before each side effect.
   */
  readonly signal: AbortSignal;
}

/** The holder's part of a call: the claim it won and what it reports. */
export interface Holder {
  recordKey: string;
  token: string;
  fence: number;
  claimSentAt: number;
  key: string;
  output: Serializer;
  facts: ProcedureFacts;
  emit: (event: Omit<IdempotencyEvent, 'path' | 'scope' | 'key'>) => void;
}

/**
 * Runs the rest of the procedure while keeping the lease, then ends the lease with one store call:
 * `complete` with the outcome, or `release` when it must not be replayed. Only an outcome that the
 * handler itself produced is stored: a call that ended before tRPC started the resolver (its input
 * failed validation, or a later middleware refused) releases the key without binding it to this input.
 */
export async function runUnderLease<TContext>(
  config: ResolvedIdempotencyOptions<TContext>,
  holder: Holder,
  next: (opts: { ctx: object }) => Promise<AnyResult>,
): Promise<AnyResult> {
  const { recordKey, token, fence, emit } = holder;
  const keeper = keepLease({
    store: config.store,
    recordKey,
    token,
    leaseMs: config.leaseMs,
    retentionMs: config.retentionMs,
    claimSentAt: holder.claimSentAt,
    onLost: (error) => emit({ type: 'leaseLost', fence, error }),
  });
  const handle: IdempotencyHandlerContext = {
    key: holder.key,
    fence,
    get signal() {
      return keeper.signal;
    },
  };
  let handlerBegan = false;
  holder.facts.watchHandlerStart(handle, () => {
    handlerBegan = true;
  });
  let result: AnyResult;
  try {
    result = await next({ ctx: { idempotency: handle } });
  } finally {
    keeper.stop();
  }

  const outcome = handlerBegan ? encodeStorable(config, holder.output, result) : undefined;
  // The handler's work is done and cannot be undone: answer with it now. If the store is down,
  // settleLease keeps trying for one lease length, so a short outage does not lose this outcome.
  await settleLease({
    call: () =>
      outcome !== undefined
        ? config.store.complete({ recordKey, token, outcome, retentionMs: config.retentionMs })
        : config.store.release({ recordKey, token, handlerBegan }),
    leaseMs: config.leaseMs,
    onSettled: (applied) => {
      const done = outcome !== undefined ? 'completed' : 'released';
      emit(
        applied
          ? { type: done, fence, handlerBegan }
          : { type: 'leaseLost', fence, error: `${done === 'completed' ? 'completion' : 'release'} refused` },
      );
    },
    onStoreError: (error) => emit({ type: 'storeError', fence, error }),
  });
  return result;
}

/** The outcome text to store, or `undefined` when this result must not be replayed and the lease is released. */
function encodeStorable<TContext>(
  config: ResolvedIdempotencyOptions<TContext>,
  output: Serializer,
  result: AnyResult,
): string | undefined {
  if (!result.ok && !config.shouldStoreError(result.error)) return undefined;
  try {
    return encodeOutcome(
      output,
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
