/** One payment as the ledger keeps it. `amount` is in minor units (cents). */
export interface Payment {
  id: string;
  amount: number;
  currency: string;
  note: string;
  /** The idempotency key of the intent that made this payment. */
  key: string;
  /** The fence the handler held when it wrote the payment. */
  fence: number;
  createdAt: Date;
}

/** What the handler asks the ledger to record. */
export type NewPayment = Omit<Payment, 'id' | 'createdAt'>;

/**
 * A late write that never became a payment: its writer had lost its lease (a pause, a slow disk, a failover)
 * and a newer holder of the same intent had taken over.
 */
export interface RefusedWrite {
  /**
   * `refused`: the ledger's fence check said no (memory and Redis). `rolled-back`: the write's transaction
   * was rolled back because its holder no longer held the lease when it tried to commit (PostgreSQL).
   */
  how: 'refused' | 'rolled-back';
  key: string;
  /** The fence of the late write. */
  fence: number;
  /**
   * The highest fence the ledger had seen for the intent: for a refusal, the one that made it refuse; for a
   * rollback, the fence of the payment that committed, or null while none has.
   */
  newestFence: number | null;
  amount: number;
  currency: string;
  refusedAt: Date;
}

/**
 * Thrown by {@link Ledger.record} for a write whose fence is lower than the newest the ledger has seen
 * for that intent: its writer lost its lease (a pause, a slow disk, a failover) and a retry took over.
 */
export class StaleFenceError extends Error {
  override readonly name = 'StaleFenceError';
  constructor(readonly refused: RefusedWrite) {
    super(
      `The ledger refused a late write for this intent: fence ${refused.fence} is lower than ${refused.newestFence}, ` +
        'the newest it has seen. A newer attempt holds the payment.',
    );
  }
}

/**
 * The example's "database" of payments, written the way the README tells apps to write theirs: every
 * write carries `ctx.idempotency.fence`, and a write whose fence is lower than the newest the ledger has
 * seen for that intent is refused (and kept in a list the page shows). There is deliberately no unique
 * constraint on the key besides: the page and the tests count payments per key to show that the
 * idempotency layer, not the database, keeps payments single. A real ledger may have both.
 *
 * The newest fences are kept as long as the payments. The idempotency store forgets a record after its
 * retention (24 h) and then starts the key's fence again from 1, so a real ledger keeps fences at least
 * that long and no longer than it keeps the intent's payments.
 */
export interface Ledger extends LedgerReads {
  readonly kind: 'memory' | 'redis';
  /** Records a payment in one atomic step with the fence check; throws {@link StaleFenceError} when refused. */
  record(payment: NewPayment): Promise<Payment>;
}

/**
 * A ledger written inside the idempotency middleware's own transaction (`createIdempotency({ transaction:
 * true })`), on PostgreSQL or SQLite: a payment row commits together with the key's stored outcome, or not
 * at all. A holder that lost its lease cannot commit, so its late write is rolled back; no fence check is
 * needed, and there is deliberately no unique constraint on the key either, so that the tests' count of rows
 * per key shows the transaction, not a constraint, keeping payments single.
 */
export interface TransactionalLedger<TClient> extends LedgerReads {
  /** Inserts a payment through `tx`, the handler's open transaction (`ctx.idempotency.tx`), and returns it. */
  recordIn(tx: TClient, payment: NewPayment): Promise<Payment>;
  /**
   * The transaction on `tx` ended: `false` is a commit the store refused because its holder had lost its
   * lease, so its write was rolled back and is listed as a late write. The backend calls this.
   */
  settle(tx: TClient, committed: boolean | undefined): void;
}

/** What the page reads from every ledger. */
export interface LedgerReads {
  /** Every payment, newest first (the latest 200). */
  list(): Promise<Payment[]>;
  /** The late writes that never became payments, newest first (the latest 50). */
  refusals(): Promise<RefusedWrite[]>;
}

/** How many payments and refusals a ledger lists. */
export const LIST_LIMIT = { payments: 200, refusals: 50 } as const;

/** `pay_0001` for the first payment. */
export const formatPaymentId = (n: number) => `pay_${String(n).padStart(4, '0')}`;

/** Keeps payments in this process; they are gone when it stops. */
export class MemoryLedger implements Ledger {
  readonly kind = 'memory' as const;
  readonly #payments: Payment[] = [];
  readonly #refusals: RefusedWrite[] = [];
  /** The newest fence written per intent key. */
  readonly #fences = new Map<string, number>();

  async record(payment: NewPayment): Promise<Payment> {
    // Check and write with no await in between: one atomic step, as a database transaction would be.
    const newestFence = this.#fences.get(payment.key) ?? 0;
    if (payment.fence < newestFence) {
      const refused = refusalOf(payment, newestFence);
      this.#refusals.push(refused);
      if (this.#refusals.length > LIST_LIMIT.refusals) this.#refusals.shift();
      throw new StaleFenceError(refused);
    }
    this.#fences.set(payment.key, payment.fence);
    const stored = { ...payment, id: formatPaymentId(this.#payments.length + 1), createdAt: new Date() };
    this.#payments.push(stored);
    return stored;
  }

  async list(): Promise<Payment[]> {
    return this.#payments.slice(-LIST_LIMIT.payments).reverse();
  }

  async refusals(): Promise<RefusedWrite[]> {
    return [...this.#refusals].reverse();
  }
}

/** The row a refused write leaves behind. */
export function refusalOf(payment: NewPayment, newestFence: number, refusedAt = new Date()): RefusedWrite {
  const { key, fence, amount, currency } = payment;
  return { how: 'refused', key, fence, newestFence, amount, currency, refusedAt };
}
