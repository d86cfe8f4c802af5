import type { IdempotencyStore } from './store/types.js';
import { type QueuedTimer, TimerQueue } from './timerQueue.js';

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

/** What {@link keepLease} needs: the lease, the store that renews it, and whom to tell when it is lost. */
export interface KeepLeaseOptions {
  store: IdempotencyStore;
  recordKey: string;
  token: string;
  leaseMs: number;
  retentionMs: number;
  /** `performance.now()` when the claim that took this lease was sent. */
  claimSentAt: number;
  onLost: (error: LeaseLostError) => void;
}

/** One queue per renewal interval: leases with the same length fall due in the order they were taken. */
const firstRenewals = new Map<number, TimerQueue>();

/**
 * Keeps a lease while the handler runs (docs/protocol.md §2). The lease is counted from the moment the
 * claim, or the last renewal that the store confirmed, was sent: the store started its own count no
 * earlier. Renewals go out at a third of the lease. When the lease, less a safety margin, runs out with
 * no newer confirmed renewal, the signal aborts at once, without waiting for a renewal that hangs:
 * another holder can take over only after the lease's end, so the handler is told first. A renewal the
 * store refuses (another holder took over) aborts too.
 */
export function keepLease(options: KeepLeaseOptions): LeaseKeeper {
  return new HeldLease(options);
}

/**
 * Most handlers end long before their first renewal, so until then a held lease is one entry in a
 * shared {@link TimerQueue}: no timer, no AbortController and no closures per request. The timers of
 * the renewal loop and of the deadline exist only once a renewal is due.
 */
class HeldLease implements LeaseKeeper, QueuedTimer {
  readonly #options: KeepLeaseOptions;
  readonly #renewEveryMs: number;
  /** The shared queue the lease waits in until its first renewal is due. */
  readonly #firstRenewals: TimerQueue;
  /** When the first renewal is due: the lease waits in the shared queue as itself until then. */
  readonly dueAt: number;
  #controller: AbortController | undefined;
  #lostReason: LeaseLostError | undefined;
  #confirmedAt: number;
  #renewTimer: ReturnType<typeof setTimeout> | undefined;
  #deadlineTimer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;
  #refused = false;
  #lastStoreError: unknown;

  constructor(options: KeepLeaseOptions) {
    this.#options = options;
    this.#confirmedAt = options.claimSentAt;
    this.#renewEveryMs = Math.max(1, Math.floor(options.leaseMs / 3));
    this.dueAt = options.claimSentAt + this.#renewEveryMs;
    let queue = firstRenewals.get(this.#renewEveryMs);
    if (!queue) {
      queue = new TimerQueue();
      firstRenewals.set(this.#renewEveryMs, queue);
    }
    this.#firstRenewals = queue;
    queue.add(this);
  }

  /** The shared queue calls this when the first renewal is due. */
  fire(): void {
    void this.#renewLease();
  }

  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#lostReason) this.#controller.abort(this.#lostReason);
    }
    return this.#controller.signal;
  }

  abort(reason: LeaseLostError): void {
    if (this.#lostReason) return;
    this.#lostReason = reason;
    this.#controller?.abort(reason);
    this.#options.onLost(reason);
  }

  stop(): void {
    this.#stopped = true;
    this.#firstRenewals.delete(this);
    clearTimeout(this.#renewTimer);
    clearTimeout(this.#deadlineTimer);
  }

  #armDeadline(): void {
    clearTimeout(this.#deadlineTimer);
    const { leaseMs } = this.#options;
    const left = this.#confirmedAt + leaseMs - leaseSafetyMarginMs(leaseMs) - performance.now();
    this.#deadlineTimer = setTimeout(
      () =>
        this.abort(
          new LeaseLostError('The idempotency lease ran out before a renewal was confirmed.', {
            cause: this.#lastStoreError,
          }),
        ),
      Math.max(0, left),
    );
    this.#deadlineTimer.unref?.();
  }

  async #renewLease(): Promise<void> {
    if (this.#stopped) return;
    // The deadline only matters once a renewal is due; until then the queue entry is enough.
    if (!this.#lostReason) this.#armDeadline();
    const { store, recordKey, token, leaseMs, retentionMs } = this.#options;
    const sentAt = performance.now();
    try {
      if (await store.renewLease({ recordKey, token, leaseMs, retentionMs })) {
        this.#confirmedAt = sentAt;
        if (!this.#lostReason) this.#armDeadline();
        this.#schedule(this.#renewEveryMs);
        return;
      }
      this.#refused = true;
      this.abort(new LeaseLostError('The store refused the renewal: the lease is held by another request.'));
    } catch (error) {
      // The store may be back before the deadline: keep asking, a little more often than usual.
      // A renewal after the signal aborted still keeps a handler that ignores it from being run twice.
      this.#lastStoreError = error;
      this.#schedule(Math.max(1, Math.floor(leaseMs / 10)));
    }
  }

  #schedule(delayMs: number): void {
    if (this.#stopped || this.#refused) return;
    clearTimeout(this.#renewTimer);
    this.#renewTimer = setTimeout(() => void this.#renewLease(), delayMs);
    this.#renewTimer.unref?.();
  }
}
