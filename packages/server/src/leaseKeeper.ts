import type { IdempotencyStore } from './store/types.js';

/** Why a handler's `ctx.idempotency.signal` aborted. */
export class LeaseLostError extends Error {
  override readonly name = 'LeaseLostError';
}

/** A running lease renewal; stop it when the handler is done. */
export interface LeaseKeeper {
  /** Aborts before the lease can run out in the store: from then on another holder may run the same intent. */
  readonly signal: AbortSignal;
  /** Gives the lease up from this side: the signal aborts with `reason` (a drain at its deadline does this). */
  abort(reason: LeaseLostError): void;
  stop(): void;
}

/**
 * How much earlier than the lease's end the holder gives up: room for the store's clock to run ahead
 * of this process's, and for a timer that fires late on a busy event loop.
 */
export function leaseSafetyMarginMs(leaseMs: number): number {
  return Math.max(20, Math.ceil(leaseMs / 10));
}

/**
 * Keeps a lease while the handler runs (docs/protocol.md §2). The lease is counted from the moment the
 * claim, or the last renewal that the store confirmed, was sent: the store started its own count no
 * earlier. Renewals go out at a third of the lease. When the lease, less a safety margin, runs out with
 * no newer confirmed renewal, the signal aborts at once, without waiting for a renewal that hangs:
 * another holder can take over only after the lease's end, so the handler is told first. A renewal the
 * store refuses (another holder took over) aborts too.
 */
export function keepLease(options: {
  store: IdempotencyStore;
  recordKey: string;
  token: string;
  leaseMs: number;
  retentionMs: number;
  /** `performance.now()` when the claim that took this lease was sent. */
  claimSentAt: number;
  onLost: (error: LeaseLostError) => void;
}): LeaseKeeper {
  const { store, recordKey, token, leaseMs, retentionMs } = options;
  const renewEveryMs = Math.max(1, Math.floor(leaseMs / 3));
  const retryEveryMs = Math.max(1, Math.floor(leaseMs / 10));
  const margin = leaseSafetyMarginMs(leaseMs);
  // Made on first use: most handlers end before their first renewal and never read the signal.
  let controller: AbortController | undefined;
  let lostReason: LeaseLostError | undefined;
  let confirmedAt = options.claimSentAt;
  let renewTimer: ReturnType<typeof setTimeout> | undefined;
  let deadlineTimer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  let refused = false;
  let lastStoreError: unknown;

  const lose = (reason: LeaseLostError) => {
    if (lostReason) return;
    lostReason = reason;
    controller?.abort(reason);
    options.onLost(reason);
  };

  const armDeadline = () => {
    clearTimeout(deadlineTimer);
    const left = confirmedAt + leaseMs - margin - performance.now();
    deadlineTimer = setTimeout(
      () =>
        lose(
          new LeaseLostError('The idempotency lease ran out before a renewal was confirmed.', {
            cause: lastStoreError,
          }),
        ),
      Math.max(0, left),
    );
    deadlineTimer.unref?.();
  };

  const renewLease = async () => {
    if (stopped) return;
    // The deadline only matters once a renewal is due; until then one timer per handler is enough.
    if (!lostReason) armDeadline();
    const sentAt = performance.now();
    try {
      if (await store.renewLease({ recordKey, token, leaseMs, retentionMs })) {
        confirmedAt = sentAt;
        if (!lostReason) armDeadline();
        schedule(renewEveryMs);
        return;
      }
      refused = true;
      lose(new LeaseLostError('The store refused the renewal: the lease is held by another request.'));
    } catch (error) {
      // The store may be back before the deadline: keep asking, a little more often than usual.
      // A renewal after the signal aborted still keeps a handler that ignores it from being run twice.
      lastStoreError = error;
      schedule(retryEveryMs);
    }
  };

  const schedule = (delayMs: number) => {
    if (stopped || refused) return;
    clearTimeout(renewTimer);
    renewTimer = setTimeout(renewLease, delayMs);
    renewTimer.unref?.();
  };

  schedule(Math.max(1, confirmedAt + renewEveryMs - performance.now()));
  return {
    get signal() {
      if (!controller) {
        controller = new AbortController();
        if (lostReason) controller.abort(lostReason);
      }
      return controller.signal;
    },
    abort: lose,
    stop() {
      stopped = true;
      clearTimeout(renewTimer);
      clearTimeout(deadlineTimer);
    },
  };
}
