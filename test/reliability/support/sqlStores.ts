import { appendFileSync } from 'node:fs';
import { MySqlStore } from '@trpc-idempotency/mysql';
import { PostgresStore } from '@trpc-idempotency/postgres';
import type { TransactionalStore } from '@trpc-idempotency/server';
import { SqliteStore } from '@trpc-idempotency/sqlite';
import Database from 'better-sqlite3';
import mysql from 'mysql2/promise';
import pg from 'pg';
import type { ServerConfig } from './serverConfig.js';

/*
 * The server side of the SQL scenarios (sqlLedger.ts reads what this writes): a store in PostgreSQL,
 * MariaDB or SQLite, and the handler's ledger row in a table of the same database. One skeleton for all
 * three; what differs is how a row is written, and the placeholders.
 */

/** One payment row, as the handler writes it. */
export interface LedgerRow {
  intent: string;
  fence: number;
  orderId: string;
  pid: number;
}

/** A store in a SQL database, and how a handler writes its ledger row there. */
export interface SqlStore {
  store: TransactionalStore<any>;
  /** Inserts the row through the handler's transaction client `tx`, or in autocommit when `tx` is undefined. */
  insert(tx: unknown, row: LedgerRow): Promise<void>;
  /** Counts a handler's start: a line in the runs file, which no transaction and no database crash can undo. */
  countRun(row: Omit<LedgerRow, 'orderId'>): void;
}

/** Opens the store that `config` names, or undefined when it is not a SQL store with a ledger. */
export function openSqlStore(config: ServerConfig): SqlStore | undefined {
  const ledger = config.sqlLedger;
  if (!ledger) return undefined;
  const countRun = (row: Omit<LedgerRow, 'orderId'>) => appendFileSync(ledger.runsFile, `${JSON.stringify(row)}\n`);
  const values = (row: LedgerRow) => [row.intent, row.fence, row.orderId, row.pid];
  const columns = `${ledger.table} (intent, fence, order_id, pid)`;
  if (config.store === 'postgres') {
    const pool = new pg.Pool({
      connectionString: config.postgresUrl,
      max: config.poolSize ?? 20,
      ...(config.connectionName ? { application_name: config.connectionName } : {}),
    });
    const store = new PostgresStore({ pool, table: config.table, timeoutMs: config.storeTimeoutMs });
    const sql = `INSERT INTO ${columns} VALUES ($1, $2, $3, $4)`;
    return {
      store,
      countRun,
      insert: async (tx, row) => {
        await ((tx as pg.PoolClient | undefined) ?? pool).query(sql, values(row));
      },
    };
  }
  if (config.store === 'mysql') {
    const pool = mysql.createPool({ uri: config.mysqlUrl, connectionLimit: config.poolSize ?? 20 });
    const store = new MySqlStore({ pool, table: config.table, timeoutMs: config.storeTimeoutMs });
    const sql = `INSERT INTO ${columns} VALUES (?, ?, ?, ?)`;
    return {
      store,
      countRun,
      insert: async (tx, row) => {
        await ((tx as mysql.PoolConnection | undefined) ?? pool).query(sql, values(row));
      },
    };
  }
  if (config.store === 'sqlite') {
    const filename = config.sqliteFile!;
    const store = new SqliteStore({ filename, table: config.table, timeoutMs: config.storeTimeoutMs });
    // Without transaction: true the handler writes on a connection of its own, waiting for other processes.
    let own: Database.Database | undefined;
    const sql = `INSERT INTO ${columns} VALUES (?, ?, ?, ?)`;
    return {
      store,
      countRun,
      insert: async (tx, row) => {
        own ??= new Database(filename, { timeout: 10_000 });
        ((tx as Database.Database | undefined) ?? own).prepare(sql).run(...values(row));
      },
    };
  }
  throw new Error(`sqlLedger needs a PostgreSQL, MySQL or SQLite store, not "${config.store}".`);
}
