import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { LedgerEntry } from './ledger.js';

/*
 * The ledger of the PostgreSQL scenarios, in the same database as the idempotency store: the place where
 * the side effect (a payment row) lands, written by the handler through ctx.idempotency.tx. Unlike the
 * Redis scenarios' ledger it checks no fence and has no unique constraint on the intent: the only thing
 * that keeps a stale holder's row out is that its transaction never commits.
 *
 *   <ns>_runs    one row per handler start (autocommit, so it stays whatever the transaction does)
 *   <ns>_ledger  one row per committed payment
 */

/** What the ledger saw, read back for the assertions. */
export interface PgLedgerSnapshot {
  runs: Map<string, number>;
  entries: Map<string, number>;
  log: LedgerEntry[];
}

/** A ledger's two tables in one database. */
export class PgLedger {
  readonly tables: { runs: string; ledger: string };
  readonly #pool: pg.Pool;

  private constructor(pool: pg.Pool, namespace: string) {
    this.#pool = pool;
    this.tables = { runs: `${namespace}_runs`, ledger: `${namespace}_ledger` };
  }

  /** Creates the tables under a fresh namespace. */
  static async create(url: string): Promise<PgLedger> {
    const pool = new pg.Pool({ connectionString: url, max: 4 });
    pool.on('error', () => {}); // the database is restarted on purpose in one scenario
    const ledger = new PgLedger(pool, `rel_${randomUUID().replaceAll('-', '').slice(0, 10)}`);
    const { runs, ledger: rows } = ledger.tables;
    await pool.query(`CREATE TABLE ${runs} (intent text NOT NULL, fence bigint NOT NULL, pid int NOT NULL);
      CREATE TABLE ${rows} (id bigserial PRIMARY KEY, intent text NOT NULL, fence bigint NOT NULL, order_id text NOT NULL, pid int NOT NULL)`);
    return ledger;
  }

  async snapshot(): Promise<PgLedgerSnapshot> {
    const count = async (table: string) => {
      const { rows } = await this.#pool.query<{ intent: string; n: string }>(
        `SELECT intent, count(*) AS n FROM ${table} GROUP BY intent`,
      );
      return new Map(rows.map((row) => [row.intent, Number(row.n)]));
    };
    const log = await this.#pool.query<{ intent: string; fence: string; order_id: string; pid: number }>(
      `SELECT intent, fence, order_id, pid FROM ${this.tables.ledger} ORDER BY id`,
    );
    return {
      runs: await count(this.tables.runs),
      entries: await count(this.tables.ledger),
      log: log.rows.map((row) => ({
        intent: row.intent,
        fence: Number(row.fence),
        orderId: row.order_id,
        pid: row.pid,
      })),
    };
  }

  /** How many handler runs (`runs`) or committed rows (`entries`) there are in all. */
  async total(name: 'runs' | 'entries'): Promise<number> {
    const table = name === 'runs' ? this.tables.runs : this.tables.ledger;
    const { rows } = await this.#pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`);
    return Number(rows[0]!.n);
  }

  async close(): Promise<void> {
    await this.#pool.query(`DROP TABLE IF EXISTS ${this.tables.runs}, ${this.tables.ledger}`).catch(() => {});
    await this.#pool.end();
  }
}
