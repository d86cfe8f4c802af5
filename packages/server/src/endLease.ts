import type { Lease } from './lease.js';
import type { ResolvedIdempotencyOptions } from './options.js';

/** Store clients often take a few seconds to reconnect after a restart, whatever the lease length. */
const MIN_RETRY_WINDOW_MS = 30_000;

/** How a holder's lease ends: with the outcome to keep, or released (binding the key only if the handler began). */
interface LeaseEnding {
  outcome: string | undefined;
  handlerBegan: boolean;
  /** Stands in for the first store call: with a transaction, the rollback that also ends the lease. */
  firstCall?: () => Promise<boolean>;
}

/**
 * Ends a holder's lease after its handler with one store call: `complete` with the outcome to keep, or
 * `release` (binding the key to its input only if the handler began), and reports how it ended. When the
 * store cannot be reached, the caller still gets its answer at once, and the call is tried again in the
 * background for one lease length, and at least 30 s. Without that, an outage of a second or two would
 * leave the record `in_progress` although the handler ran and its caller got the result: once the lease
 * ran out, a retry would run the handler a second time and get a different result. Trying again is safe:
 * both calls check the lease token, so a newer holder is never overwritten, even when the lease ran out
 * during the outage; if nobody took over, storing the real outcome late is right.
 */
export async function endLease<TContext>(
  config: ResolvedIdempotencyOptions<TContext>,
  lease: Lease,
  ending: LeaseEnding,
): Promise<void> {
  let applied: boolean;
  try {
    applied = await (ending.firstCall ? ending.firstCall() : callStore(config, lease, ending));
  } catch (error) {
    lease.emit({ type: 'storeError', fence: lease.fence, error });
    retryInBackground(config, lease, ending);
    return;
  }
  settled(lease, ending, applied);
}

/** Tries the store call again with a growing delay until it answers or the retry window closes. */
function retryInBackground<TContext>(
  config: ResolvedIdempotencyOptions<TContext>,
  lease: Lease,
  ending: LeaseEnding,
): void {
  const deadline = performance.now() + Math.max(config.leaseMs, MIN_RETRY_WINDOW_MS);
  let delayMs = 25;
  const retryLater = () => {
    const timer = setTimeout(async () => {
      try {
        settled(lease, ending, await callStore(config, lease, ending));
      } catch (error) {
        if (performance.now() + delayMs >= deadline) {
          // Reported once more when the retries give up, and the lease counts as settled by nobody.
          lease.emit({ type: 'storeError', fence: lease.fence, error });
          lease.done();
          return;
        }
        delayMs = Math.min(delayMs * 2, 250);
        retryLater();
      }
    }, delayMs);
    // A pending retry must never keep a process alive that is shutting down.
    timer.unref?.();
  };
  retryLater();
}

function callStore<TContext>(
  config: ResolvedIdempotencyOptions<TContext>,
  lease: Lease,
  ending: LeaseEnding,
): Promise<boolean> {
  const { recordKey, token } = lease;
  return ending.outcome !== undefined
    ? config.store.complete({ recordKey, token, outcome: ending.outcome, retentionMs: config.retentionMs })
    : config.store.release({ recordKey, token, handlerBegan: ending.handlerBegan });
}

/** The store answered, at once or after a retry: `applied`, or refused because the lease is another holder's. */
function settled(lease: Lease, ending: LeaseEnding, applied: boolean): void {
  const done = ending.outcome !== undefined ? 'completed' : 'released';
  lease.emit(
    applied
      ? { type: done, fence: lease.fence, handlerBegan: ending.handlerBegan }
      : { type: 'leaseLost', fence: lease.fence, error: `${done === 'completed' ? 'completion' : 'release'} refused` },
  );
  lease.done();
}
