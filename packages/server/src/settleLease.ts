import type { ResolvedIdempotencyOptions } from './options.js';
import type { Holder } from './runUnderLease.js';

/** Store clients often take a few seconds to reconnect after a restart, whatever the lease length. */
const MIN_RETRY_WINDOW_MS = 30_000;

/**
 * Ends a holder's lease with one store call (`complete` or `release`). When the store cannot be
 * reached, the caller still gets its answer at once, and the call is tried again in the background
 * for one lease length, and at least 30 s. Without that, an outage of a second or two would leave
 * the record `in_progress` although the handler ran and its caller got the result: once the lease
 * ran out, a retry would run the handler a second time and get a different result.
 * Trying again is safe: both calls check the lease token, so a newer holder is never overwritten,
 * even when the lease ran out during the outage; if nobody took over, storing the real outcome late
 * is right.
 */
export async function settleLease(options: {
  /** The store call; resolves `true` when it was applied, `false` when the lease is not this holder's. */
  call: () => Promise<boolean>;
  /** The lease length, in ms: the retries go on at least this long after the first failure. */
  leaseMs: number;
  /** The store answered, now or after a retry. */
  onSettled: (applied: boolean) => void;
  /** The store failed: on the first failure, and once more when the retries give up. */
  onStoreError: (error: unknown) => void;
  /** Called once when it is over: the store answered (`applied` or not), or the retries gave up (`undefined`). */
  onDone?: (applied: boolean | undefined) => void;
}): Promise<void> {
  const settled = (applied: boolean) => {
    options.onSettled(applied);
    options.onDone?.(applied);
  };
  try {
    settled(await options.call());
    return;
  } catch (error) {
    options.onStoreError(error);
  }
  const deadline = performance.now() + Math.max(options.leaseMs, MIN_RETRY_WINDOW_MS);
  let delayMs = 25;
  const retryLater = () => {
    const timer = setTimeout(async () => {
      try {
        settled(await options.call());
      } catch (error) {
        if (performance.now() + delayMs >= deadline) {
          options.onStoreError(error);
          return options.onDone?.(undefined);
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

/** How a holder's lease ends: with the outcome to keep, or released (binding the key only if the handler began). */
interface LeaseEnding {
  outcome: string | undefined;
  handlerBegan: boolean;
  /** Stands in for the first store call: with a transaction, the rollback that also ends the lease. */
  firstCall?: () => Promise<boolean>;
}

/**
 * Ends a holder's lease after its handler: `complete` with the outcome to keep, or `release` (binding the key
 * to its input only if the handler began), and reports how it ended. The first call is made here directly,
 * since it nearly always succeeds; only a store error brings in {@link settleLease}'s retries.
 */
export async function endLease<TContext>(
  config: ResolvedIdempotencyOptions<TContext>,
  holder: Holder,
  ending: LeaseEnding,
): Promise<void> {
  let applied: boolean;
  try {
    applied = await (ending.firstCall ? ending.firstCall() : callStore(config, holder, ending));
  } catch (error) {
    holder.emit({ type: 'storeError', fence: holder.fence, error });
    // The first failure is reported; settleLease tries again in the background, without a first call.
    let first = true;
    return settleLease({
      call: () => {
        if (first) {
          first = false;
          return Promise.reject(error);
        }
        return callStore(config, holder, ending);
      },
      leaseMs: config.leaseMs,
      onSettled: (late) => reportSettled(holder, ending, late),
      onStoreError: (later) => {
        if (later !== error) holder.emit({ type: 'storeError', fence: holder.fence, error: later });
      },
      onDone: holder.lifecycle?.done,
    });
  }
  reportSettled(holder, ending, applied);
  holder.lifecycle?.done(applied);
}

function callStore<TContext>(
  config: ResolvedIdempotencyOptions<TContext>,
  holder: Holder,
  ending: LeaseEnding,
): Promise<boolean> {
  const { recordKey, token } = holder;
  return ending.outcome !== undefined
    ? config.store.complete({ recordKey, token, outcome: ending.outcome, retentionMs: config.retentionMs })
    : config.store.release({ recordKey, token, handlerBegan: ending.handlerBegan });
}

function reportSettled(holder: Holder, ending: LeaseEnding, applied: boolean): void {
  const done = ending.outcome !== undefined ? 'completed' : 'released';
  holder.emit(
    applied
      ? { type: done, fence: holder.fence, handlerBegan: ending.handlerBegan }
      : { type: 'leaseLost', fence: holder.fence, error: `${done === 'completed' ? 'completion' : 'release'} refused` },
  );
}
