import type { Pool, PoolClient } from 'pg';
import {
  formatPaymentId,
  LIST_LIMIT,
  type NewPayment,
  type Payment,
  type RefusedWrite,
  type TransactionalLedger,
} from './ledger.js';
import { RolledBackWrites } from './rolledBackWrites.js';

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

/**
 * Keeps payments in a PostgreSQL table, in the same database as the idempotency records, written inside the
 * idempotency middleware's own transaction (see {@link TransactionalLedger}).
 */
export class PostgresLedger implements TransactionalLedger<PoolClient> {
  readonly kind = 'postgres' as const;
  readonly #pool: Pool;
  readonly #table: string;
  readonly #rolledBack = new RolledBackWrites<PoolClient>();
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
    this.#rolledBack.wrote(tx, payment);
    return { ...payment, id: formatPaymentId(Number(rows[0]!.id)), createdAt: rows[0]!.created_at };
  }

  settle(tx: PoolClient, committed: boolean | undefined): void {
    this.#rolledBack.settle(tx, committed);
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
    const keys = this.#rolledBack.keys();
    if (keys.length === 0) return [];
    const { rows } = await this.#read(() =>
      this.#pool.query<{ key: string; fence: string }>(newestFencesSql(this.#table), [keys]),
    );
    return this.#rolledBack.list(new Map(rows.map((row) => [row.key, Number(row.fence)])));
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
