import { getHeapStatistics } from 'node:v8';
import { checkOptions, isFunction, wholeNumber } from '@trpc-idempotency/protocol';
import {
  compactId,
  compactRecordKey,
  type MemoryRecord,
  memoryRecordExpiresAt,
  readMemoryRecord,
  writeMemoryRecord,
} from './memoryRecord.js';
import { RecordWatches } from './recordWatches.js';
import {
  type ClaimRequest,
  type ClaimResult,
  type CompleteRequest,
  type IdempotencyStore,
  type RecordWatch,
  type ReleaseRequest,
  type RenewLeaseRequest,
  StoreFullError,
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
  /**
   * The most memory the records may take, in bytes (counted as each record's text and a measured fixed
   * cost per record, within a few percent of the heap it takes). At the bound a claim of a new key is
   * refused with 503 `STORE_FULL`: no live or completed record is evicted before its retention, so no
   * intent can run twice for want of room. Records already held still complete, so the count may pass
   * the bound by the outcomes of the leases in flight. Default: a quarter of V8's heap limit.
   */
  maxBytes?: number;
}

/** What a {@link MemoryStore} holds, against its bound. */
export interface MemoryStoreUsage {
  records: number;
  bytes: number;
  maxBytes: number;
}

/**
 * Heap bytes per record beyond its text: the Map entry, the key and the string headers. Measured with
 * the bench's heap reading (about 380 bytes per record with 200-byte outcomes, whose text is about 260).
 */
const RECORD_OVERHEAD_BYTES = 120;
/** When a full store may have room again: the timed sweep runs every second by default. */
const FULL_RETRY_AFTER_MS = 1000;

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
  /** Records by {@link compactRecordKey}, each written as one string (memoryRecord.ts). */
  readonly #records = new Map<string, string>();
  readonly #now: () => number;
  readonly #sweeper: ReturnType<typeof setInterval>;
  readonly #sweepBatchSize: number;
  readonly #maxBytes: number;
  #bytes = 0;
  /** Duplicates waiting in this process, woken by a completion or release of their record (docs/protocol.md §3). */
  readonly #watches = new RecordWatches();
  #sweepCursor: Iterator<[string, string]> | undefined;

  constructor(options: MemoryStoreOptions = {}) {
    checkOptions('new MemoryStore', options, {
      sweepIntervalMs: wholeNumber({ min: 1, unit: 'ms' }),
      sweepBatchSize: wholeNumber({ min: 1 }),
      now: isFunction,
      maxBytes: wholeNumber({ min: 1024, unit: 'bytes' }),
    });
    this.#maxBytes = options.maxBytes ?? Math.floor(getHeapStatistics().heap_size_limit / 4);
    this.#now = options.now ?? (() => performance.now());
    this.#sweepBatchSize = options.sweepBatchSize ?? 10_000;
    this.#sweeper = setInterval(() => this.#sweepSlice(), options.sweepIntervalMs ?? 1000);
    this.#sweeper.unref?.();
  }

  /** How many records are held now, expired ones not yet swept included. */
  get size(): number {
    return this.#records.size;
  }

  /** The records held, the bytes they take and the bound, for telemetry (docs/observability.md). */
  usage(): MemoryStoreUsage {
    return { records: this.#records.size, bytes: this.#bytes, maxBytes: this.#maxBytes };
  }

  claim({ recordKey, fingerprint, token, leaseMs, retentionMs }: ClaimRequest): Promise<ClaimResult> {
    const now = this.#now();
    const name = compactRecordKey(recordKey);
    const record = this.#live(name, now);
    const ownToken = compactId(token);
    const ownFingerprint = compactId(fingerprint);
    let inputBound = false;
    if (record) {
      if (record.state === 'in_progress' && record.token === ownToken) {
        return answerNextTurn({ status: 'claimed', fence: record.fence });
      }
      const anyInput = record.state === 'released' && !record.inputBound;
      if (!anyInput && record.fingerprint !== ownFingerprint) return answerNextTurn({ status: 'mismatch' });
      if (record.state === 'completed') return answerNextTurn({ status: 'completed', outcome: record.outcome });
      if (record.state === 'in_progress' && record.leaseExpiresAt > now) {
        return answerNextTurn({
          status: 'in_progress',
          leaseRemainingMs: Math.ceil(record.leaseExpiresAt - now),
          heldForMs: Math.floor(now - record.claimedAt),
        });
      }
      // A lease that ran out may have run the handler; a released record says whether one did.
      inputBound = record.state === 'in_progress' || record.inputBound;
    }
    if (!record && this.#bytes >= this.#maxBytes) {
      // Room is made only by retention ending, never by evicting a record that may still be needed.
      this.#sweepSlice();
      if (this.#bytes >= this.#maxBytes) {
        return Promise.reject(
          new StoreFullError(
            `MemoryStore is at its bound (${this.#bytes} of ${this.#maxBytes} bytes); new keys wait for retention to free room.`,
            FULL_RETRY_AFTER_MS,
          ),
        );
      }
    }
    const fence = (record?.fence ?? 0) + 1;
    // Deleted first so that Map order stays claim order, which the sweep walks.
    this.#remove(name);
    this.#put(
      name,
      writeMemoryRecord({
        state: 'in_progress',
        inputBound,
        fence,
        claimedAt: now,
        leaseExpiresAt: now + leaseMs,
        expiresAt: now + retentionMs,
        token: ownToken,
        fingerprint: ownFingerprint,
        outcome: '',
      }),
    );
    return answerNextTurn({ status: 'claimed', fence });
  }

  async complete({ recordKey, token, outcome, retentionMs }: CompleteRequest): Promise<boolean> {
    const now = this.#now();
    const name = compactRecordKey(recordKey);
    const record = this.#live(name, now);
    if (!record || record.token !== compactId(token)) return false;
    if (record.state === 'completed') return true;
    if (record.state !== 'in_progress') return false;
    record.state = 'completed';
    record.outcome = outcome;
    record.expiresAt = now + retentionMs;
    this.#put(name, writeMemoryRecord(record));
    this.#watches.notify(recordKey);
    return true;
  }

  async release({ recordKey, token, handlerBegan }: ReleaseRequest): Promise<boolean> {
    const name = compactRecordKey(recordKey);
    const record = this.#live(name, this.#now());
    if (!record || record.token !== compactId(token)) return false;
    if (record.state === 'released') return true;
    if (record.state !== 'in_progress') return false;
    // The record stays, without a lease, so that the fence keeps growing across holders.
    record.state = 'released';
    if (handlerBegan) record.inputBound = true;
    this.#put(name, writeMemoryRecord(record));
    this.#watches.notify(recordKey);
    return true;
  }

  async renewLease({ recordKey, token, leaseMs, retentionMs }: RenewLeaseRequest): Promise<boolean> {
    const now = this.#now();
    const name = compactRecordKey(recordKey);
    const record = this.#live(name, now);
    if (record?.state !== 'in_progress' || record.token !== compactId(token)) return false;
    record.leaseExpiresAt = now + leaseMs;
    // The record must outlive the lease, or the next claim would start the fence again at 1.
    record.expiresAt = Math.max(record.expiresAt, now + retentionMs);
    this.#put(name, writeMemoryRecord(record));
    return true;
  }

  /**
   * Watches a record for a waiting duplicate: woken in this process, at once, by the record's completion or
   * release. Nothing to subscribe to, so `ready` is resolved.
   */
  watch(recordKey: string): RecordWatch {
    return this.#watches.watch(recordKey);
  }

  /** Removes every record whose retention has ended, all at once. The timer sweeps the same way in slices. */
  sweep(): void {
    const now = this.#now();
    for (const [name, record] of this.#records) {
      if (memoryRecordExpiresAt(record) <= now) this.#remove(name);
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
      const [name, record] = next.value;
      if (memoryRecordExpiresAt(record) <= now) this.#remove(name);
    }
  }

  /** Stops the sweep timer. The store still answers afterwards, but no longer sweeps. */
  close(): void {
    clearInterval(this.#sweeper);
  }

  #live(name: string, now: number): MemoryRecord | undefined {
    const text = this.#records.get(name);
    if (text === undefined) return undefined;
    const record = readMemoryRecord(text);
    if (record.expiresAt <= now) {
      this.#remove(name);
      return undefined;
    }
    return record;
  }

  /** Sets a record's text, keeping the byte count. */
  #put(name: string, text: string): void {
    const old = this.#records.get(name);
    this.#bytes += recordBytes(name, text) - (old === undefined ? 0 : recordBytes(name, old));
    this.#records.set(name, text);
  }

  #remove(name: string): void {
    const old = this.#records.get(name);
    if (old === undefined) return;
    this.#bytes -= recordBytes(name, old);
    this.#records.delete(name);
  }
}

function recordBytes(name: string, text: string): number {
  return RECORD_OVERHEAD_BYTES + name.length + text.length;
}

let answersDue: Array<{ resolve: (result: ClaimResult) => void; result: ClaimResult }> = [];

function answerAll(): void {
  const due = answersDue;
  answersDue = [];
  for (const { resolve, result } of due) resolve(result);
}

/**
 * Answers a claim at the end of this turn of the event loop, as a networked store's answers arrive,
 * together. The claim itself is decided at once (it stays atomic); only the answer waits. Measured with
 * the bench: answering every claim synchronously cost the server more CPU per request than RedisStore's
 * two round trips, because each request then ran to its response alone instead of in one burst with the
 * others that arrived in the same turn.
 */
function answerNextTurn(result: ClaimResult): Promise<ClaimResult> {
  return new Promise((resolve) => {
    if (answersDue.length === 0) setImmediate(answerAll);
    answersDue.push({ resolve, result });
  });
}
