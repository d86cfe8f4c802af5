import Database from 'better-sqlite3';
import {
  formatPaymentId,
  LIST_LIMIT,
  type NewPayment,
  type Payment,
  type RefusedWrite,
  type TransactionalLedger,
} from './ledger.js';
import { RolledBackWrites } from './rolledBackWrites.js';

/** The example's default ledger table, beside the idempotency records in the same file. */
export const SQLITE_LEDGER_TABLE = 'ledger_payments';

// No unique constraint on key (see TransactionalLedger). Times are ms since the epoch, as SqliteStore keeps them.
const CREATE_TABLE_SQL = `
CREATE TABLE IF NOT EXISTS ${SQLITE_LEDGER_TABLE} (
  id INTEGER PRIMARY KEY,
  amount INTEGER NOT NULL,
  currency TEXT NOT NULL,
  note TEXT NOT NULL,
  key TEXT NOT NULL,
  fence INTEGER NOT NULL,
  created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS ${SQLITE_LEDGER_TABLE}_key ON ${SQLITE_LEDGER_TABLE} (key)`;

const INSERT_SQL = `INSERT INTO ${SQLITE_LEDGER_TABLE} (amount, currency, note, key, fence, created_at)
  VALUES (@amount, @currency, @note, @key, @fence, @createdAt) RETURNING id`;
const LIST_SQL = `SELECT id, amount, currency, note, key, fence, created_at FROM ${SQLITE_LEDGER_TABLE} ORDER BY id DESC LIMIT ?`;
const NEWEST_FENCE_SQL = `SELECT max(fence) FROM ${SQLITE_LEDGER_TABLE} WHERE key = ?`;

interface PaymentRow {
  id: number;
  amount: number;
  currency: string;
  note: string;
  key: string;
  fence: number;
  created_at: number;
}

/**
 * Keeps payments in a table of the SQLite file that holds the idempotency records, written through the
 * handler's transaction (`ctx.idempotency.tx`, a better-sqlite3 connection inside `BEGIN IMMEDIATE`), so a
 * payment and its key's outcome commit together. The ledger's own connection only reads (and creates the
 * table at start-up, before any handler runs): in WAL mode reads never wait for the handler's transaction,
 * and SqliteStore's README asks that nothing else write to the file while transactions may run.
 */
export class SqliteLedger implements TransactionalLedger<Database.Database> {
  readonly kind = 'sqlite' as const;
  readonly #db: Database.Database;
  readonly #rolledBack = new RolledBackWrites<Database.Database>();
  #reachable = true;

  private constructor(db: Database.Database) {
    this.#db = db;
  }

  /** Opens the file (SqliteStore's createSchema() made it) and creates the ledger's table if it is missing. */
  static open(filename: string): SqliteLedger {
    const db = new Database(filename, { fileMustExist: true, timeout: 1000 });
    try {
      db.exec(CREATE_TABLE_SQL);
    } catch (error) {
      db.close();
      throw error;
    }
    return new SqliteLedger(db);
  }

  /** Whether the last read of the ledger worked: the page's store badge, without asking. */
  get reachable(): boolean {
    return this.#reachable;
  }

  async recordIn(tx: Database.Database, payment: NewPayment): Promise<Payment> {
    if (!tx.open) {
      // The store rolled this transaction back and closed its connection: it ran past the store's
      // transactionTimeoutMs, the lease it held having run out (a handler stopped past its lease). Its
      // write never happens; the retry that took over pays.
      this.#rolledBack.add(payment);
      throw new LateWriteError(payment);
    }
    const createdAt = Date.now();
    const row = tx.prepare(INSERT_SQL).get({ ...payment, createdAt }) as { id: number };
    this.#rolledBack.wrote(tx, payment);
    return { ...payment, id: formatPaymentId(row.id), createdAt: new Date(createdAt) };
  }

  settle(tx: Database.Database, committed: boolean | undefined): void {
    this.#rolledBack.settle(tx, committed);
  }

  async list(): Promise<Payment[]> {
    const rows = this.#read(() => this.#db.prepare(LIST_SQL).all(LIST_LIMIT.payments) as PaymentRow[]);
    return rows.map((row) => ({
      id: formatPaymentId(row.id),
      amount: row.amount,
      currency: row.currency,
      note: row.note,
      key: row.key,
      fence: row.fence,
      createdAt: new Date(row.created_at),
    }));
  }

  /** The late writes that were rolled back, each with the fence of the payment that did commit. */
  async refusals(): Promise<RefusedWrite[]> {
    const keys = this.#rolledBack.keys();
    if (keys.length === 0) return [];
    const newest = this.#read(() => {
      const statement = this.#db.prepare(NEWEST_FENCE_SQL).pluck();
      return new Map(keys.map((key) => [key, statement.get(key) as number | null]));
    });
    const committed = new Map([...newest].filter((entry): entry is [string, number] => entry[1] !== null));
    return this.#rolledBack.list(committed);
  }

  close(): void {
    this.#db.close();
  }

  #read<T>(query: () => T): T {
    try {
      const result = query();
      this.#reachable = true;
      return result;
    } catch (error) {
      this.#reachable = false;
      throw error;
    }
  }
}

/** A write that came after the store had rolled its transaction back: the router answers 409 CONFLICT. */
export class LateWriteError extends Error {
  override readonly name = 'LateWriteError';
  constructor(readonly payment: NewPayment) {
    super(
      "This payment's transaction was rolled back before its write: its holder had lost its lease. A newer attempt holds the payment.",
    );
  }
}
