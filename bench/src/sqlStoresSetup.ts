import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSchema as createMySqlSchema } from '@trpc-idempotency/mysql';
import { createSchema as createSqliteSchema } from '@trpc-idempotency/sqlite';
import Database from 'better-sqlite3';
import mysql from 'mysql2/promise';
import { mariadbdBin, startMySqlServer } from '../../test/support/mysqlServer';
import { ORDERS_TABLE } from './sqlStoresVariants';

/** MariaDB's statement counters: `Questions` and every nonzero `Com_*`, without the `Com_` prefix. */
export interface MariaDbStatus {
  questions: number;
  com: Record<string, number>;
  /** `Innodb_data_fsyncs`: InnoDB's fsync calls (the redo log's included: one per durable commit, or per group of them). */
  fsyncs: number;
}

/** The private MariaDB of one bench:sql run. */
export interface BenchMariaDb {
  url: string;
  version: string;
  /** The server-wide statement counters now (this reader's own SHOW counts once in each). */
  status(): Promise<MariaDbStatus>;
  stop(): Promise<void>;
}

/**
 * Starts a private mariadbd (test/support/mysqlServer.ts: its own data directory and port; defaults
 * otherwise, so `innodb_flush_log_at_trx_commit = 1`: every commit waits for the redo log to reach the
 * disk), with room for the connections of four server processes, and creates the store's schema and the
 * orders table in its database `app`. Undefined, with a message, when MariaDB is not installed.
 */
export async function setUpMariaDb(): Promise<BenchMariaDb | undefined> {
  if (!mariadbdBin()) {
    console.log('skipped MySqlStore on MariaDB: MariaDB is not installed (apt-get install -y mariadb-server)');
    return undefined;
  }
  const server = await startMySqlServer({ 'max-connections': '600', 'innodb-buffer-pool-size': '256M' });
  const admin = mysql.createPool({ uri: server.url, connectionLimit: 1 });
  await createMySqlSchema(admin);
  await admin.query(
    `CREATE TABLE ${ORDERS_TABLE} (id BIGINT AUTO_INCREMENT PRIMARY KEY, item VARCHAR(255) NOT NULL, qty INT NOT NULL, note VARCHAR(255) NOT NULL, fence BIGINT NULL) ENGINE = InnoDB`,
  );
  const [versionRows] = await admin.query<mysql.RowDataPacket[]>('SELECT VERSION() AS version');
  return {
    url: server.url,
    version: String(versionRows[0]!.version),
    async status() {
      const [rows] = await admin.query<mysql.RowDataPacket[]>(
        "SHOW GLOBAL STATUS WHERE Variable_name IN ('Questions', 'Innodb_data_fsyncs') OR Variable_name LIKE 'Com\\_%'",
      );
      const status: MariaDbStatus = { questions: 0, com: {}, fsyncs: 0 };
      for (const row of rows) {
        const name = String(row.Variable_name);
        const value = Number(row.Value);
        if (name === 'Questions') status.questions = value;
        else if (name === 'Innodb_data_fsyncs') status.fsyncs = value;
        else if (value !== 0) status.com[name.slice('Com_'.length).toLowerCase()] = value;
      }
      return status;
    },
    async stop() {
      await admin.end();
      await server.stop();
    },
  };
}

/** The SQLite file of one bench:sql run. */
export interface BenchSqlite {
  file: string;
  version: string;
  remove(): void;
}

/**
 * Creates a SQLite file in a new temporary directory (on the machine's disk here, not a tmpfs) with the
 * store's schema (createSchema puts it in WAL mode) and the orders table.
 */
export function setUpSqlite(): BenchSqlite {
  const dir = mkdtempSync(join(tmpdir(), 'trpc-idem-bench-sqlite-'));
  const file = join(dir, 'bench.db');
  createSqliteSchema(file);
  const db = new Database(file);
  db.exec(
    `CREATE TABLE ${ORDERS_TABLE} (id INTEGER PRIMARY KEY, item TEXT NOT NULL, qty INTEGER NOT NULL, note TEXT NOT NULL, fence INTEGER)`,
  );
  const version = String(db.prepare('SELECT sqlite_version()').pluck().get());
  db.close();
  return { file, version, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
