import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LedgerEntry } from './ledger.js';

/*
 * The ledger of the SQL scenarios (PostgreSQL, MariaDB, SQLite), in the same database as the idempotency
 * store: the place where the side effect (a payment row) lands, written by the handler through
 * ctx.idempotency.tx (sqlStores.ts). Unlike the Redis scenarios' ledger it checks no fence and has no
 * unique constraint on the intent: the only thing that keeps a stale holder's row out is that its
 * transaction never commits.
 *
 *   <ns>_ledger        one row per committed payment
 *   <dir>/<ns>.runs    one JSON line per handler start, appended by the server processes: no rollback and
 *                      no crash of the database takes one back
 */

/** What the ledger saw, read back for the assertions. */
export interface SqlLedgerSnapshot {
  /** Handler starts per intent. */
  runs: Map<string, number>;
  /** Committed rows per intent. */
  entries: Map<string, number>;
  /** Every committed row, in insertion order. */
  log: LedgerEntry[];
}

/** How the test reads a database: plain SQL, no placeholders. */
export interface SqlReader {
  all(sql: string): Promise<Array<Record<string, unknown>>>;
  exec(sql: string): Promise<void>;
  close(): Promise<void>;
}

/** A ledger table and its runs file. */
export class SqlLedger {
  readonly tables: { table: string; runsFile: string };
  readonly #reader: SqlReader;

  private constructor(reader: SqlReader, tables: { table: string; runsFile: string }) {
    this.#reader = reader;
    this.tables = tables;
  }

  /**
   * Creates the ledger table under a fresh name, with `createTable` (its dialect's DDL for the columns
   * id, intent, fence, order_id, pid), and names a runs file in `dir`.
   */
  static async create(reader: SqlReader, dir: string, createTable: (table: string) => string): Promise<SqlLedger> {
    const namespace = `rel_${randomUUID().replaceAll('-', '').slice(0, 10)}`;
    const tables = { table: `${namespace}_ledger`, runsFile: join(dir, `${namespace}.runs`) };
    await reader.exec(createTable(tables.table));
    return new SqlLedger(reader, tables);
  }

  async snapshot(): Promise<SqlLedgerSnapshot> {
    const rows = await this.#reader.all(`SELECT intent, fence, order_id, pid FROM ${this.tables.table} ORDER BY id`);
    const log = rows.map((row) => ({
      intent: String(row.intent),
      fence: Number(row.fence),
      orderId: String(row.order_id),
      pid: Number(row.pid),
    }));
    const entries = new Map<string, number>();
    for (const entry of log) entries.set(entry.intent, (entries.get(entry.intent) ?? 0) + 1);
    const runs = new Map<string, number>();
    for (const run of this.#runs()) runs.set(run.intent, (runs.get(run.intent) ?? 0) + 1);
    return { runs, entries, log };
  }

  /** How many handler runs (`runs`) or committed rows (`entries`) there are in all. */
  async total(name: 'runs' | 'entries'): Promise<number> {
    if (name === 'runs') return this.#runs().length;
    const [row] = await this.#reader.all(`SELECT count(*) AS n FROM ${this.tables.table}`);
    return Number(row!.n);
  }

  async close(): Promise<void> {
    await this.#reader.exec(`DROP TABLE IF EXISTS ${this.tables.table}`).catch(() => {});
    await this.#reader.close();
  }

  #runs(): Array<{ intent: string; fence: number; pid: number }> {
    if (!existsSync(this.tables.runsFile)) return [];
    return readFileSync(this.tables.runsFile, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line));
  }
}

/** How many intents ran how many times, e.g. `{ "2": 20 }`. */
export function runsHistogram(snapshot: SqlLedgerSnapshot): Record<string, number> {
  const histogram: Record<string, number> = {};
  for (const runs of snapshot.runs.values()) histogram[runs] = (histogram[runs] ?? 0) + 1;
  return histogram;
}
