import { checkOptions } from '@trpc-idempotency/protocol';
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

type Phase = 'claiming' | 'running' | 'settling';

/** One keyed call between the gate and the end of its lease, as the drain sees it. */
export interface DrainTicket {
  /** The call won the lease: from now on the drain may abort its keeper and release the lease at the deadline. */
  running(recordKey: string, token: string, fence: number, keeper: { abort(reason: LeaseLostError): void }): void;
  /** The handler returned; its completion or release is under way. */
  settling(): void;
  /** The call is over: answered, and its lease settled (or given up on). Safe to call more than once. */
  done(applied?: boolean): void;
}

/**
 * A keyed call as the gate counts it. A class, and its `ended` promise made only when a drain waits for
 * it, because every keyed request makes one.
 */
class Ticket implements DrainTicket {
  phase: Phase = 'claiming';
  recordKey = '';
  token = '';
  fence = 0;
  keeper: { abort(reason: LeaseLostError): void } | undefined;
  /** The drain released this lease itself: do not list it again. */
  releasedByDrain = false;
  #ended: Promise<void> | undefined;
  #end: (() => void) | undefined;

  constructor(
    readonly path: string,
    readonly gate: DrainGate,
  ) {}

  /** Resolves when the call is done. */
  get ended(): Promise<void> {
    this.#ended ??= new Promise<void>((resolve) => {
      this.#end = resolve;
    });
    return this.#ended;
  }

  running(recordKey: string, token: string, fence: number, keeper: { abort(reason: LeaseLostError): void }): void {
    this.recordKey = recordKey;
    this.token = token;
    this.fence = fence;
    this.keeper = keeper;
    this.phase = 'running';
  }

  settling(): void {
    this.phase = 'settling';
  }

  done(): void {
    if (!this.gate.leave(this)) return;
    this.#end?.();
  }
}

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
export class DrainGate {
  readonly #tickets = new Set<Ticket>();
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

  /** Lets a keyed call in; it counts until `done()`. */
  enter(path: string): DrainTicket {
    const ticket = new Ticket(path, this);
    this.#tickets.add(ticket);
    busyGates.add(this);
    return ticket;
  }

  /** @internal A ticket's call is done; `false` if it was already. */
  leave(ticket: Ticket): boolean {
    if (!this.#tickets.delete(ticket)) return false;
    if (this.#tickets.size === 0) busyGates.delete(this);
    return true;
  }

  /** Closes the gate, waits for the calls in flight up to the deadline, then releases what still runs. */
  async drain(options: DrainOptions = {}): Promise<DrainReport> {
    this.#draining = true;
    return drainGates([this], options, () => this.#refused);
  }

  /** @internal Part of a drain: wait, then release leases still held at the deadline. */
  async settle(deadline: number): Promise<Omit<DrainReport, 'durationMs' | 'refused'>> {
    const watched = new Set<Ticket>();
    // Calls that passed the gate just before it closed may still come in: keep looking until none is left.
    while (this.#tickets.size > 0) {
      const left = deadline - performance.now();
      if (left <= 0) break;
      for (const ticket of this.#tickets) watched.add(ticket);
      await Promise.race([
        Promise.all([...this.#tickets].map((ticket) => ticket.ended)),
        new Promise((resolve) => setTimeout(resolve, left).unref?.()),
      ]);
    }
    const released: DrainedLease[] = [];
    const unsettled: DrainedLease[] = [];
    const describe = (ticket: Ticket, reason: DrainedLease['reason']): DrainedLease => ({
      path: ticket.path,
      recordKey: ticket.recordKey,
      fence: ticket.fence,
      reason,
    });
    await Promise.all(
      [...this.#tickets].map(async (ticket) => {
        if (ticket.releasedByDrain) return;
        if (ticket.phase === 'claiming') return unsettled.push(describe(ticket, 'claim still pending'));
        if (ticket.phase === 'settling') return unsettled.push(describe(ticket, 'store unreachable'));
        ticket.releasedByDrain = true;
        ticket.keeper?.abort(new LeaseLostError('The server is shutting down: its drain released this lease.'));
        const freed = await this.#store
          .release({ recordKey: ticket.recordKey, token: ticket.token, handlerBegan: true })
          .then(
            () => true,
            () => false,
          );
        (freed ? released : unsettled).push(describe(ticket, freed ? 'handler still running' : 'store unreachable'));
      }),
    );
    const finished = [...watched].filter((ticket) => !this.#tickets.has(ticket)).length;
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
