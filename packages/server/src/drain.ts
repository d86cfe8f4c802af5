import { checkOptions } from '@trpc-idempotency/protocol';
import type { Lease, LeaseGate } from './lease.js';
import { LeaseLostError } from './leaseKeeper.js';
import type { IdempotencyStore } from './store/types.js';

/** Options of `idempotency.drain()` and {@link drainIdempotency}. */
export interface DrainOptions {
  /**
   * How long to wait for the calls in flight, in ms. At the deadline, the leases of handlers still running
   * are released (their `ctx.idempotency.signal` aborts first), so retries elsewhere need not wait for them
   * to run out. Default 10 000: within the 30 s that Kubernetes and most platforms give a process after SIGTERM.
   */
  timeoutMs?: number;
}

/** One lease that a drain released or could not settle, named without the raw key or scope. */
export interface DrainedLease {
  /** The procedure path, such as `payments.create`. */
  path: string;
  /** The record's name in the store: a SHA-256 hash, never the raw key. */
  recordKey: string;
  /** The fence of the lease, or 0 when the call had not claimed yet. */
  fence: number;
  /** Why it is listed. */
  reason: 'handler still running' | 'store unreachable' | 'claim still pending';
}

/** What a drain did, for the shutdown log. */
export interface DrainReport {
  /** Calls in flight when the drain began (or that passed the gate just before) that ended in time, lease settled. */
  finished: number;
  /** Keyed calls refused with 503 `SERVER_DRAINING` while this drain ran. */
  refused: number;
  /**
   * Leases released at the deadline while their handler still ran. A retry may run the handler again at once:
   * the fence (`ctx.idempotency.fence`) is what keeps the old holder from writing after it.
   */
  released: DrainedLease[];
  /**
   * What could not be settled: a completion or release still retried against a store that does not answer
   * (its record stays `in_progress` until the lease runs out), or a claim still under way.
   */
  unsettled: DrainedLease[];
  /** How long the drain took, in ms. */
  durationMs: number;
}

/** How long a refused caller is asked to wait: enough for a load balancer to pick another process. */
export const DRAINING_RETRY_AFTER_MS = 200;
const DEFAULT_DRAIN_TIMEOUT_MS = 10_000;

/** Set by {@link drainIdempotency}: every middleware of this process refuses new keyed calls from then on. */
let processDraining = false;
/** Gates with calls in flight, for {@link drainIdempotency}; a gate is here only while it has some. */
const busyGates = new Set<DrainGate>();
/** Keyed calls refused while draining, by every gate of this process. */
let refusedInProcess = 0;

/**
 * The shutdown gate of one `createIdempotency` middleware: it counts keyed calls from the moment they pass
 * the gate to the end of their lease, and closes for new ones when a drain begins.
 */
export class DrainGate implements LeaseGate {
  readonly #leases = new Set<Lease>();
  readonly #store: IdempotencyStore;
  #draining = false;
  #refused = 0;

  constructor(store: IdempotencyStore) {
    this.#store = store;
  }

  /** True once this middleware, or the whole process, drains: new keyed calls get 503 `SERVER_DRAINING`. */
  get draining(): boolean {
    return this.#draining || processDraining;
  }

  /** Counts a call refused while draining. */
  refused(): void {
    this.#refused++;
    refusedInProcess++;
  }

  /** Lets a keyed call in; it counts until its lease is done (`Lease.done`, which leaves the gate). */
  enter(lease: Lease): void {
    this.#leases.add(lease);
    busyGates.add(this);
  }

  /** @internal A lease is done. */
  leave(lease: Lease): void {
    if (this.#leases.delete(lease) && this.#leases.size === 0) busyGates.delete(this);
  }

  /** Closes the gate, waits for the calls in flight up to the deadline, then releases what still runs. */
  async drain(options: DrainOptions = {}): Promise<DrainReport> {
    this.#draining = true;
    return drainGates([this], options, () => this.#refused);
  }

  /** @internal Part of a drain: wait, then release leases still held at the deadline. */
  async settle(deadline: number): Promise<Omit<DrainReport, 'durationMs' | 'refused'>> {
    const watched = new Set<Lease>();
    // Calls that passed the gate just before it closed may still come in: keep looking until none is left.
    while (this.#leases.size > 0) {
      const left = deadline - performance.now();
      if (left <= 0) break;
      for (const lease of this.#leases) watched.add(lease);
      await Promise.race([
        Promise.all([...this.#leases].map((lease) => lease.ended)),
        new Promise((resolve) => setTimeout(resolve, left).unref?.()),
      ]);
    }
    const released: DrainedLease[] = [];
    const unsettled: DrainedLease[] = [];
    const describe = (lease: Lease, reason: DrainedLease['reason']): DrainedLease => ({
      path: lease.path,
      recordKey: lease.recordKey,
      fence: lease.fence,
      reason,
    });
    await Promise.all(
      [...this.#leases].map(async (lease) => {
        if (lease.releasedByDrain) return;
        if (lease.phase === 'claiming') return unsettled.push(describe(lease, 'claim still pending'));
        if (lease.phase === 'settling') return unsettled.push(describe(lease, 'store unreachable'));
        lease.releasedByDrain = true;
        lease.abort(new LeaseLostError('The server is shutting down: its drain released this lease.'));
        const freed = await this.#store
          .release({ recordKey: lease.recordKey, token: lease.token, handlerBegan: true })
          .then(
            () => true,
            () => false,
          );
        (freed ? released : unsettled).push(describe(lease, freed ? 'handler still running' : 'store unreachable'));
      }),
    );
    const finished = [...watched].filter((lease) => !this.#leases.has(lease)).length;
    return { finished, released, unsettled };
  }
}

async function drainGates(gates: DrainGate[], options: DrainOptions, refusedSoFar: () => number): Promise<DrainReport> {
  checkOptions('drain', options, {
    timeoutMs: (value) => (typeof value === 'number' && value >= 0 ? undefined : 'must be a number of ms, 0 or more'),
  });
  const timeoutMs = options.timeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS;
  const startedAt = performance.now();
  const refusedBefore = refusedSoFar();
  const parts = await Promise.all(gates.map((gate) => gate.settle(startedAt + timeoutMs)));
  return {
    finished: parts.reduce((sum, part) => sum + part.finished, 0),
    refused: refusedSoFar() - refusedBefore,
    released: parts.flatMap((part) => part.released),
    unsettled: parts.flatMap((part) => part.unsettled),
    durationMs: Math.round(performance.now() - startedAt),
  };
}

/**
 * Drains every idempotency middleware of this process, for a SIGTERM handler: new keyed calls get 503
 * `SERVER_DRAINING` (clients retry, elsewhere), calls in flight get `timeoutMs` to finish and settle their
 * lease, and leases still held then are released so that no retry waits for them to run out.
 *
 * @example
 * process.once('SIGTERM', async () => {
 *   const report = await drainIdempotency({ timeoutMs: 10_000 });
 *   if (report.unsettled.length > 0) console.warn('left behind', report.unsettled);
 *   server.close(() => process.exit(0));
 * });
 */
export async function drainIdempotency(options: DrainOptions = {}): Promise<DrainReport> {
  processDraining = true;
  return drainGates([...busyGates], options, () => refusedInProcess);
}
