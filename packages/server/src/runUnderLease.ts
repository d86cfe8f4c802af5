import { endLease } from './endLease.js';
import { finishTransaction } from './finishTransaction.js';
import type { Lease } from './lease.js';
import { keepLease } from './leaseKeeper.js';
import type { ResolvedIdempotencyOptions } from './options.js';
import { prepareOutcome } from './sizeLimits.js';
import { type AnyResult, isInputValidationFailure } from './trpcInternals.js';

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

/** `ctx.idempotency` with `transaction: true`: the same, and the open transaction to write through. */
export interface TransactionalHandlerContext<TClient> extends IdempotencyHandlerContext {
  /**
   * A client of the store's database inside an open transaction (for PostgresStore, a `pg` PoolClient).
   * Write the handler's rows through it: after the handler, the middleware completes the record in this
   * same transaction and commits, or rolls everything back if this holder lost its lease. Do not commit,
   * roll back or release it yourself.
   */
  readonly tx: TClient;
}

/**
 * Runs the rest of the procedure while keeping the lease, then ends the lease with one store call:
 * `complete` with the outcome, or `release` when it must not be replayed. Only an outcome that the
 * handler may have produced is stored: a call whose input failed tRPC's input parser releases the key
 * without binding it to this input (docs/protocol.md §2). Middlewares after this one count as the handler.
 */
export async function runUnderLease<TContext>(
  config: ResolvedIdempotencyOptions<TContext>,
  lease: Lease,
  next: (ctx: { idempotency: IdempotencyHandlerContext }) => Promise<AnyResult>,
): Promise<AnyResult> {
  const { recordKey, token, fence, emit } = lease;
  const keeper = keepLease({
    store: config.store,
    recordKey,
    token,
    leaseMs: config.leaseMs,
    retentionMs: config.retentionMs,
    claimSentAt: lease.claimSentAt,
    onLost: (error) => emit({ type: 'leaseLost', fence, error }),
  });
  lease.running(keeper);
  const handle: IdempotencyHandlerContext & { tx?: unknown } = {
    key: lease.key,
    fence,
    get signal() {
      return keeper.signal;
    },
  };
  if (lease.transaction) handle.tx = lease.transaction.client;
  let result: AnyResult;
  try {
    result = await next({ idempotency: handle });
  } catch (error) {
    lease.done();
    throw error;
  } finally {
    keeper.stop();
  }

  lease.settling();
  const handlerBegan = result.ok || !isInputValidationFailure(result.error);
  const prepared = handlerBegan
    ? prepareOutcome(config.limits, lease.output, result, config.shouldStoreError)
    : { stored: undefined, answer: result };
  if (prepared.tooLargeBytes !== undefined) emit({ type: 'outcomeTooLarge', fence, bytes: prepared.tooLargeBytes });
  if (lease.transaction) {
    return finishTransaction(config, lease, lease.transaction, { result, prepared, handlerBegan });
  }
  // The handler's work is done and cannot be undone: answer with it now. If the store is down,
  // endLease keeps trying for one lease length, so a short outage does not lose this outcome.
  await endLease(config, lease, { outcome: prepared.stored, handlerBegan });
  return prepared.answer;
}
