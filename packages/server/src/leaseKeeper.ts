import type { IdempotencyStore } from './store/types.js';

/** Why a handler's `ctx.idempotency.signal` aborted. */
export class LeaseLostError extends Error {
  override readonly name = 'LeaseLostError';
}

/** A running lease renewal; stop it when the handler is done. */
export interface LeaseKeeper {
  /** Aborts once the lease is lost: another holder may run the same intent from then on. */
  readonly signal: AbortSignal;
  stop(): void;
}

/**
 * Renews a lease at a third of its length while the handler runs. A renewal that the store refuses
 * means another holder took over; renewals that keep failing past the lease's length mean the lease
 * has run out. Either way the signal aborts, so the handler can stop before it writes.
 */
export function keepLease(options: {
  store: IdempotencyStore;
  recordKey: string;
  token: string;
  leaseMs: number;
  onLost: (error: unknown) => void;
}): LeaseKeeper {
  const { store, recordKey, token, leaseMs } = options;
  const controller = new AbortController();
  let leaseValidUntil = performance.now() + leaseMs;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;

  const lose = (reason: unknown) => {
    if (stopped || controller.signal.aborted) return;
    stopped = true;
    controller.abort(
      new LeaseLostError('The idempotency lease was lost; another request may run this intent.', { cause: reason }),
    );
    options.onLost(reason);
  };

  const renewLease = async () => {
    const startedAt = performance.now();
    try {
      const renewed = await store.renewLease({ recordKey, token, leaseMs });
      if (!renewed)
        return lose(new LeaseLostError('The store refused the renewal: the lease is held by another request.'));
      leaseValidUntil = startedAt + leaseMs;
    } catch (error) {
      if (performance.now() >= leaseValidUntil) return lose(error);
    }
    schedule();
  };

  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(renewLease, Math.max(1, Math.floor(leaseMs / 3)));
    timer.unref?.();
  };

  schedule();
  return {
    signal: controller.signal,
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
