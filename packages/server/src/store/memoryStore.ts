import type {
  ClaimRequest,
  ClaimResult,
  CompleteRequest,
  IdempotencyStore,
  RecordState,
  ReleaseRequest,
  RenewLeaseRequest,
} from './types.js';

/** Options of {@link MemoryStore}. */
export interface MemoryStoreOptions {
  /** How often expired records are swept out, in ms. Default 1000. */
  sweepIntervalMs?: number;
  /**
   * How many records one timed sweep looks at, at most. A sweep of every record at once would pause the
   * event loop for tens of ms at a few hundred thousand records; slices keep each pause short, and the
   * next slice goes on where this one stopped. Default 10,000.
   */
  sweepBatchSize?: number;
  /** The clock, in ms. Default: a monotonic clock, so wall-clock jumps never expire a lease early. */
  now?: () => number;
}

interface MemoryRecord {
  state: RecordState;
  fingerprint: string;
  /** Whether a handler may have run with `fingerprint`; until then another input may claim a released record. */
  inputBound: boolean;
  token: string;
  fence: number;
  claimedAt: number;
  leaseExpiresAt: number;
  outcome: string | undefined;
  expiresAt: number;
}

/**
 * An idempotency store in this process's memory, with the same semantics as the Redis store:
 * atomic claim, lease, fence and retention. Expired records are swept out, so memory stays bounded.
 * It protects one process only: several server processes need a shared store such as Redis.
 *
 * @example
 * const idempotency = createIdempotency({ store: new MemoryStore(), scope: (ctx) => ctx.userId });
 */
export class MemoryStore implements IdempotencyStore {
  readonly kind = 'memory';
  readonly #records = new Map<string, MemoryRecord>();
  readonly #now: () => number;
  readonly #sweeper: ReturnType<typeof setInterval>;
  readonly #sweepBatchSize: number;
  #sweepCursor: Iterator<[string, MemoryRecord]> | undefined;

  constructor(options: MemoryStoreOptions = {}) {
    this.#now = options.now ?? (() => performance.now());
    this.#sweepBatchSize = options.sweepBatchSize ?? 10_000;
    this.#sweeper = setInterval(() => this.#sweepSlice(), options.sweepIntervalMs ?? 1000);
    this.#sweeper.unref?.();
  }

  /** How many records are held now, expired ones not yet swept included. */
  get size(): number {
    return this.#records.size;
  }

  async claim({ recordKey, fingerprint, token, leaseMs, retentionMs }: ClaimRequest): Promise<ClaimResult> {
    const now = this.#now();
    const record = this.#live(recordKey, now);
    let inputBound = false;
    if (record) {
      if (record.state === 'in_progress' && record.token === token) return { status: 'claimed', fence: record.fence };
      const anyInput = record.state === 'released' && !record.inputBound;
      if (!anyInput && record.fingerprint !== fingerprint) return { status: 'mismatch' };
      if (record.state === 'completed') return { status: 'completed', outcome: record.outcome ?? '' };
      if (record.state === 'in_progress' && record.leaseExpiresAt > now) {
        return {
          status: 'in_progress',
          leaseRemainingMs: Math.ceil(record.leaseExpiresAt - now),
          heldForMs: Math.floor(now - record.claimedAt),
        };
      }
      // A lease that ran out may have run the handler; a released record says whether one did.
      inputBound = record.state === 'in_progress' || record.inputBound;
    }
    const fence = (record?.fence ?? 0) + 1;
    this.#records.delete(recordKey);
    this.#records.set(recordKey, {
      state: 'in_progress',
      fingerprint,
      inputBound,
      token,
      fence,
      claimedAt: now,
      leaseExpiresAt: now + leaseMs,
      outcome: undefined,
      expiresAt: now + retentionMs,
    });
    return { status: 'claimed', fence };
  }

  async complete({ recordKey, token, outcome, retentionMs }: CompleteRequest): Promise<boolean> {
    const now = this.#now();
    const record = this.#live(recordKey, now);
    if (!record || record.token !== token) return false;
    if (record.state === 'completed') return true;
    if (record.state !== 'in_progress') return false;
    record.state = 'completed';
    record.outcome = outcome;
    record.expiresAt = now + retentionMs;
    return true;
  }

  async release({ recordKey, token, handlerBegan }: ReleaseRequest): Promise<boolean> {
    const record = this.#live(recordKey, this.#now());
    if (!record || record.token !== token) return false;
    if (record.state === 'released') return true;
    if (record.state !== 'in_progress') return false;
    // The record stays, without a lease, so that the fence keeps growing across holders.
    record.state = 'released';
    if (handlerBegan) record.inputBound = true;
    return true;
  }

  async renewLease({ recordKey, token, leaseMs, retentionMs }: RenewLeaseRequest): Promise<boolean> {
    const now = this.#now();
    const record = this.#live(recordKey, now);
    if (record?.state !== 'in_progress' || record.token !== token) return false;
    record.leaseExpiresAt = now + leaseMs;
    // The record must outlive the lease, or the next claim would start the fence again at 1.
    record.expiresAt = Math.max(record.expiresAt, now + retentionMs);
    return true;
  }

  /** Removes every record whose retention has ended, all at once. The timer sweeps the same way in slices. */
  sweep(): void {
    const now = this.#now();
    for (const [recordKey, record] of this.#records) {
      if (record.expiresAt <= now) this.#records.delete(recordKey);
    }
  }

  /** Looks at the next slice of records; a Map iterator stays valid across deletes and inserts. */
  #sweepSlice(): void {
    const now = this.#now();
    this.#sweepCursor ??= this.#records.entries();
    for (let seen = 0; seen < this.#sweepBatchSize; seen++) {
      const next = this.#sweepCursor.next();
      if (next.done) {
        this.#sweepCursor = undefined;
        return;
      }
      const [recordKey, record] = next.value;
      if (record.expiresAt <= now) this.#records.delete(recordKey);
    }
  }

  /** Stops the sweep timer. The store still answers afterwards, but no longer sweeps. */
  close(): void {
    clearInterval(this.#sweeper);
  }

  #live(recordKey: string, now: number): MemoryRecord | undefined {
    const record = this.#records.get(recordKey);
    if (record && record.expiresAt <= now) {
      this.#records.delete(recordKey);
      return undefined;
    }
    return record;
  }
}
