import type { IdempotencyEvent } from './events.js';
import type { LeaseKeeper, LeaseLostError } from './leaseKeeper.js';
import type { Serializer } from './outcome.js';
import type { StoreTransaction } from './store/types.js';
import type { CallTelemetry } from './telemetry/types.js';

/**
 * Where a keyed call's lease is: `claiming` from the drain gate until the claim is answered, `running`
 * while the handler runs under a renewed lease, `settling` while its completion or release is under way
 * (retried in the background when the store is down), `done` once settled or given up on.
 */
export type LeasePhase = 'claiming' | 'running' | 'settling' | 'done';

/** What a lease reports its steps with: `onEvent` and telemetry, without the call's path, scope or key. */
export type EmitEvent = (event: Omit<IdempotencyEvent, 'path' | 'scope' | 'key'>) => void;

/** The drain gate a lease counts in, from the gate to its end (drain.ts). */
export interface LeaseGate {
  leave(lease: Lease): void;
}

/**
 * One keyed call's lease, the one object that follows it from the drain gate to the lease's end: the claim
 * it won (record, token, fence), its keeper (renewal and the handler's signal), its transaction, and what
 * it tells the drain and the telemetry. Its phase changes only through its methods, in order.
 */
export class Lease {
  phase: LeasePhase = 'claiming';
  /** The record's name in the store (a SHA-256, never the raw key), once known. */
  recordKey = '';
  token = '';
  /** The fence of the claim it won; 0 while claiming. */
  fence = 0;
  /** When the claim that won was sent: the lease is counted from then. */
  claimSentAt = 0;
  /** With `transaction: true`: the transaction the handler writes through; the middleware ends it. */
  transaction: StoreTransaction<unknown> | undefined;
  keeper: LeaseKeeper | undefined;
  /** The drain released this lease itself at its deadline. */
  releasedByDrain = false;
  #ended: Promise<void> | undefined;
  #end: (() => void) | undefined;

  constructor(
    readonly path: string,
    /** The client's key, for `ctx.idempotency.key`. */
    readonly key: string,
    /** Writes the handler's outcome for the store. */
    readonly output: Serializer,
    readonly emit: EmitEvent,
    readonly telemetry: CallTelemetry | undefined,
    readonly gate: LeaseGate,
  ) {}

  /** The claim was won: the lease is held from now on, for the telemetry's gauge too. */
  claimed(
    claim: { recordKey: string; token: string; fence: number; sentAt: number },
    transaction?: StoreTransaction<unknown>,
  ): void {
    this.recordKey = claim.recordKey;
    this.token = claim.token;
    this.fence = claim.fence;
    this.claimSentAt = claim.sentAt;
    this.transaction = transaction;
    this.telemetry?.leaseHeld();
  }

  /** The handler runs, its lease kept by `keeper`: a drain may now abort it and release the lease. */
  running(keeper: LeaseKeeper): void {
    this.keeper = keeper;
    this.phase = 'running';
  }

  /** The handler returned; its completion or release is under way. */
  settling(): void {
    this.phase = 'settling';
  }

  /** The lease is settled, or given up on, or was never won. Safe to call more than once. */
  done(): void {
    if (this.phase === 'done') return;
    if (this.keeper || this.fence > 0) this.telemetry?.leaseEnded();
    this.phase = 'done';
    this.gate.leave(this);
    this.#end?.();
  }

  /** Aborts the handler's signal: the drain gives the lease up. */
  abort(reason: LeaseLostError): void {
    this.keeper?.abort(reason);
  }

  /** Resolves when the lease is done; made only when a drain waits for it. */
  get ended(): Promise<void> {
    if (this.phase === 'done') return Promise.resolve();
    this.#ended ??= new Promise<void>((resolve) => {
      this.#end = resolve;
    });
    return this.#ended;
  }
}
