import { TRPCError } from '@trpc/server';
import { endLease } from './endLease.js';
import { IdempotencyError } from './errors.js';
import type { Lease } from './lease.js';
import type { ResolvedIdempotencyOptions } from './options.js';
import type { PreparedOutcome } from './sizeLimits.js';
import { type StoreTransaction, StoreUnavailableError } from './store/types.js';
import type { AnyResult } from './trpcInternals.js';

/** How soon a caller whose holder could not commit may ask again: the key is free, or has a newer holder. */
const AFTER_REFUSED_COMMIT_MS = 100;
/** How long a caller is asked to wait when the commit failed in the store. */
const AFTER_STORE_ERROR_MS = 1000;

/**
 * Ends a holder's transaction after the handler (docs/protocol.md §5), with one store call:
 * - a success is stored in the handler's own transaction and committed with its writes. If the store
 *   refuses (the lease ran out, or another holder took over), everything is rolled back and the caller
 *   gets a retryable 409 `IN_PROGRESS`: its retry meets the newer holder, its outcome, or a free key.
 *   If the commit fails in the store, the caller gets a retryable 503: the record and the writes
 *   committed together or not at all, so the retry replays the outcome or runs the handler again;
 * - anything else rolls the handler's writes back: then an error the handler threw on purpose is
 *   stored in a transaction of its own, and any other end (an unexpected error, a 5xx, a call refused
 *   before the handler began) releases the lease, as without a transaction.
 */
export async function finishTransaction<TContext>(
  config: ResolvedIdempotencyOptions<TContext>,
  lease: Lease,
  transaction: StoreTransaction<unknown>,
  ended: { result: AnyResult; prepared: PreparedOutcome; handlerBegan: boolean },
): Promise<AnyResult> {
  const { fence, emit } = lease;
  const { result, prepared, handlerBegan } = ended;
  const { retentionMs } = config;
  const outcome = prepared.stored;

  if (result.ok && outcome !== undefined) {
    let committed: boolean;
    try {
      committed = await transaction.commit({ outcome, retentionMs });
    } catch (error) {
      lease.done();
      if (!isStoreUnavailable(error)) {
        // The database refused the handler's own transaction; the store rolled it back and released the lease.
        emit({ type: 'released', fence, handlerBegan });
        throw new TRPCError({
          code: 'INTERNAL_SERVER_ERROR',
          message: "The handler's transaction failed to commit and was rolled back.",
          cause: error,
        });
      }
      emit({ type: 'storeError', fence, error });
      throw new IdempotencyError(
        'STORE_UNAVAILABLE',
        'The idempotency store failed while committing; retry: the retry replays the outcome if it was committed, or runs again if it was not.',
        { retryAfterMs: AFTER_STORE_ERROR_MS, cause: error },
      );
    }
    lease.done();
    if (committed) {
      emit({ type: 'completed', fence, handlerBegan });
      // The handler's result, or OUTCOME_TOO_LARGE in its place when that error is what was stored.
      return prepared.answer;
    }
    emit({ type: 'leaseLost', fence, error: 'commit refused: the lease ran out or another request took over' });
    throw new IdempotencyError(
      'IN_PROGRESS',
      'This request lost its idempotency lease before it could commit, so its writes were rolled back; retry to get the outcome of the request that holds the key now.',
      { retryAfterMs: AFTER_REFUSED_COMMIT_MS },
    );
  }

  // Roll the handler's writes back; after a store error the background retries of endLease use
  // the plain store calls, since the transaction is gone with its connection.
  await endLease(config, lease, {
    outcome,
    handlerBegan,
    firstCall: () => transaction.rollback(outcome !== undefined ? { outcome, retentionMs } : { handlerBegan }),
  });
  if (result.ok && handlerBegan) {
    // A success that cannot be kept for a replay (the serializer cannot write it, or it is over
    // maxOutcomeBytes with onOutcomeTooLarge: 'release'); committing its writes without a stored outcome
    // would let a retry write them again, so they were rolled back.
    throw new TRPCError({
      code: 'INTERNAL_SERVER_ERROR',
      message:
        prepared.tooLargeBytes === undefined
          ? 'The result cannot be serialized for replay, so the transaction was rolled back.'
          : `The result (${prepared.tooLargeBytes} bytes) is larger than maxOutcomeBytes and cannot be kept for a replay, so the transaction was rolled back.`,
    });
  }
  return prepared.answer;
}

/** By name too: a store package may bring its own copy of this package. */
function isStoreUnavailable(error: unknown): boolean {
  return error instanceof StoreUnavailableError || (error as Error | undefined)?.name === 'StoreUnavailableError';
}
