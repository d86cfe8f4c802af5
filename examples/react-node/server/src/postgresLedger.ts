import type { Pool, PoolClient } from 'pg';
import {
  formatPaymentId,
  type LedgerReads,
  LIST_LIMIT,
  type NewPayment,
  type Payment,
  type RefusedWrite,
} from './ledger.js';

/**
 * The ledger in PostgreSQL, written inside the idempotency middleware's own transaction
 * (`createIdempotency({ transaction: true })`): a payment row commits together with the key's stored
 * outcome, or not at all. A holder that lost its lease cannot commit, so its late write is rolled back;
 * no fence check is needed, and there is deliberately no unique constraint on the key either, so that the
 * tests' count of rows per key shows the transaction, not a constraint, keeping payments single.
 */
export interface TransactionalLedger extends LedgerReads {
  readonly kind: 'postgres';
  /** Inserts a payment through `tx`, the handler's open transaction (`ctx.idempotency.tx`), and returns it. */
  recordIn(tx: PoolClient, payment: NewPayment): Promise<Payment>;
}

/** The example's default ledger table. */
export const LEDGER_TABLE = 'ledger_payments';

// The table: no unique constraint on key (see above). The index serves refusals()' newest fence per key.
const createTableSql = (table: string) => `
CREATE TABLE IF NOT EXISTS ${table} (
  id bigserial PRIMARY KEY,
  amount integer NOT NULL,
  currency text NOT NULL,
  note text NOT NULL,
  key text NOT NULL,
  fence bigint NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS ${table}_key ON ${table} (key)`;

/** Params: amount, currency, note, key, fence. Returns the new row's id and time. */
const insertSql = (table: string) =>
  `INSERT INTO ${table} (amount, currency, note, key, fence) VALUES ($1, $2, $3, $4, $5) RETURNING id, created_at`;

/** Params: how many. The newest payments first. */
const listSql = (table: string) =>
  `SELECT id, amount, currency, note, key, fence, created_at FROM ${table} ORDER BY id DESC LIMIT $1`;

/** Params: the keys. The highest committed fence of each. */
const newestFencesSql = (table: string) =>
  `SELECT key, max(fence) AS fence FROM ${table} WHERE key = ANY($1) GROUP BY key`;

interface PaymentRow {
  id: string;
  amount: number;
  currency: string;
  note: string;
  key: string;
  fence: string;
  created_at: Date;
}

/** Keeps payments in a PostgreSQL table, in the same database as the idempotency records. */
export class PostgresLedger implements TransactionalLedger {
  readonly kind = 'postgres' as const;
  readonly #pool: Pool;
  readonly #table: string;
  /** Payments written in transactions that have not ended yet, by connection (one transaction each). */
  readonly #open = new Map<PoolClient, NewPayment>();
  /**
   * Late writes whose transaction was rolled back, kept in this server's memory: a rolled-back write
   * leaves nothing in the database, which is the point.
   */
  readonly #rolledBack: Array<Omit<RefusedWrite, 'newestFence'>> = [];
  #reachable = true;

  private constructor(pool: Pool, table: string) {
    this.#pool = pool;
    this.#table = table;
  }

  /** Creates the table if it is missing and returns the ledger. `table` is a plain lower-case name. */
  static async open(pool: Pool, table = LEDGER_TABLE): Promise<PostgresLedger> {
    if (!/^[a-z_][a-z0-9_]{0,50}$/.test(table)) {
      throw new TypeError(`PostgresLedger: the table name must be a lower-case identifier, got "${table}".`);
    }
    await pool.query(createTableSql(table));
    return new PostgresLedger(pool, table);
  }

  /** Whether the last read of the ledger reached the database: the page's store badge, without asking. */
  get reachable(): boolean {
    return this.#reachable;
  }

  async recordIn(tx: PoolClient, payment: NewPayment): Promise<Payment> {
    const { amount, currency, note, key, fence } = payment;
    const { rows } = await tx.query<{ id: string; created_at: Date }>(insertSql(this.#table), [
      amount,
      currency,
      note,
      key,
      fence,
    ]);
    this.#open.set(tx, payment);
    return { ...payment, id: formatPaymentId(Number(rows[0]!.id)), createdAt: rows[0]!.created_at };
  }

  /**
   * The transaction on `tx` ended: `false` is a commit the store refused because this holder had lost its
   * lease, so its write was rolled back. The backend calls this from the store's transaction.
   */
  settle(tx: PoolClient, committed: boolean | undefined): void {
    const payment = this.#open.get(tx);
    this.#open.delete(tx);
    if (!payment || committed !== false) return;
    const { key, fence, amount, currency } = payment;
    this.#rolledBack.push({ how: 'rolled-back', key, fence, amount, currency, refusedAt: new Date() });
    if (this.#rolledBack.length > LIST_LIMIT.refusals) this.#rolledBack.shift();
  }

  async list(): Promise<Payment[]> {
    const { rows } = await this.#read(() => this.#pool.query<PaymentRow>(listSql(this.#table), [LIST_LIMIT.payments]));
    return rows.map((row) => ({
      id: formatPaymentId(Number(row.id)),
      amount: row.amount,
      currency: row.currency,
      note: row.note,
      key: row.key,
      fence: Number(row.fence),
      createdAt: row.created_at,
    }));
  }

  /** The late writes that were rolled back, each with the fence of the payment that did commit. */
  async refusals(): Promise<RefusedWrite[]> {
    if (this.#rolledBack.length === 0) return [];
    const keys = [...new Set(this.#rolledBack.map((write) => write.key))];
    const { rows } = await this.#read(() =>
      this.#pool.query<{ key: string; fence: string }>(newestFencesSql(this.#table), [keys]),
    );
    const newest = new Map(rows.map((row) => [row.key, Number(row.fence)]));
    return [...this.#rolledBack].reverse().map((write) => ({ ...write, newestFence: newest.get(write.key) ?? null }));
  }

  async #read<T>(query: () => Promise<T>): Promise<T> {
    try {
      const result = await query();
      this.#reachable = true;
      return result;
    } catch (error) {
      this.#reachable = false;
      throw error;
    }
  }
}
