import { LIST_LIMIT, type NewPayment, type RefusedWrite } from './ledger.js';

/** A late write whose transaction was rolled back, before the ledger looks up the fence that did commit. */
export type RolledBackWrite = Omit<RefusedWrite, 'newestFence'>;

/**
 * The late writes of a transactional ledger (PostgreSQL, SQLite), kept in this server's memory: a
 * rolled-back write leaves nothing in the database, which is the point. Each payment written through a
 * transaction is held here until that transaction ends; a refused commit turns it into a late write.
 */
export class RolledBackWrites<TClient> {
  /** Payments written in transactions that have not ended yet, by connection (one transaction each). */
  readonly #open = new Map<TClient, NewPayment>();
  readonly #writes: RolledBackWrite[] = [];

  /** A payment was written through `tx`; it counts once the transaction commits. */
  wrote(tx: TClient, payment: NewPayment): void {
    this.#open.set(tx, payment);
  }

  /** The transaction on `tx` ended; `false` is a commit the store refused (its holder had lost its lease). */
  settle(tx: TClient, committed: boolean | undefined): void {
    const payment = this.#open.get(tx);
    this.#open.delete(tx);
    if (payment && committed === false) this.add(payment);
  }

  /** Lists `payment` as a late write that was rolled back. */
  add(payment: NewPayment): void {
    const { key, fence, amount, currency } = payment;
    this.#writes.push({ how: 'rolled-back', key, fence, amount, currency, refusedAt: new Date() });
    if (this.#writes.length > LIST_LIMIT.refusals) this.#writes.shift();
  }

  /** The keys of the late writes, for the lookup of each one's committed fence. */
  keys(): string[] {
    return [...new Set(this.#writes.map((write) => write.key))];
  }

  /** The late writes, newest first, each with the fence of the payment that did commit (or null while none has). */
  list(newestFences: ReadonlyMap<string, number>): RefusedWrite[] {
    return [...this.#writes].reverse().map((write) => ({ ...write, newestFence: newestFences.get(write.key) ?? null }));
  }
}
