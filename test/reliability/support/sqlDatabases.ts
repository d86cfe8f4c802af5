import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSchema as createMySqlSchema } from '@trpc-idempotency/mysql';
import { createSchema as createPostgresSchema } from '@trpc-idempotency/postgres';
import { createSchema as createSqliteSchema } from '@trpc-idempotency/sqlite';
import Database from 'better-sqlite3';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { MYSQL_HINT } from '../../support/mysqlDatabase.js';
import { mariadbdBin, startMySqlServer } from '../../support/mysqlServer.js';
import { POSTGRES_HINT, testTable } from '../../support/postgres.js';
import { postgresBin, startPostgresCluster } from '../../support/postgresCluster.js';
import type { ServerConfig } from './serverConfig.js';
import { SqlLedger, type SqlReader } from './sqlLedger.js';

/*
 * The databases of the SQL scenarios, behind one interface, so that each scenario (sqlCrash.ts,
 * sqlRestart.ts, storm.test.ts) is written once for all of them: a private PostgreSQL cluster, a private
 * mariadbd, or a SQLite file. Each holds the store's table and the ledger (sqlLedger.ts).
 */

/** A database one scenario runs on. */
export interface ScenarioDatabase {
  /** As the scenario's figures name it: `postgres`, `mysql` or `sqlite`. */
  kind: 'postgres' | 'mysql' | 'sqlite';
  /** The store settings of a server process on it, writing to `ledger`. */
  serverConfig(ledger: SqlLedger, extra?: { transaction?: boolean }): ServerConfig;
  /** A new ledger table in it. */
  createLedger(): Promise<SqlLedger>;
  /** For a database server: `kill -9` of it, and a start on the same data and port. */
  server?: { port: number; kill(): Promise<void>; start(): Promise<void> };
  stop(): Promise<void>;
}

/** Whether a scenario on `kind` can run here; throws under CI=true when it cannot. */
export function databaseInstalled(kind: ScenarioDatabase['kind'], file: string): boolean {
  const installed =
    kind === 'postgres' ? postgresBin() !== undefined : kind === 'mysql' ? mariadbdBin() !== undefined : true;
  const hint = kind === 'postgres' ? `PostgreSQL is not installed. ${POSTGRES_HINT}` : `No mariadbd. ${MYSQL_HINT}`;
  if (!installed && process.env.CI === 'true') throw new Error(hint);
  if (!installed) console.warn(`${file} skipped: ${hint}`);
  return installed;
}

/** A private PostgreSQL cluster with room for `maxConnections`. */
export async function startPostgresDatabase(maxConnections: number): Promise<ScenarioDatabase> {
  const cluster = await startPostgresCluster({ max_connections: String(maxConnections) });
  const table = testTable('rel_store');
  const admin = new pg.Pool({ connectionString: cluster.url, max: 2 });
  // The database is killed on purpose in one scenario.
  admin.on('error', () => {});
  await createPostgresSchema(admin, { table });
  const dir = mkdtempSync(join(tmpdir(), 'trpc-idem-rel-'));
  const reader: SqlReader = {
    all: async (sql) => (await admin.query(sql)).rows,
    exec: async (sql) => {
      await admin.query(sql);
    },
    close: async () => {},
  };
  return {
    kind: 'postgres',
    serverConfig: (ledger, extra = {}) => ({
      store: 'postgres',
      postgresUrl: cluster.url,
      table,
      sqlLedger: { ...ledger.tables, ...extra },
    }),
    createLedger: () =>
      SqlLedger.create(
        reader,
        dir,
        (ledger) =>
          `CREATE TABLE ${ledger} (id bigserial PRIMARY KEY, intent text NOT NULL, fence bigint NOT NULL, order_id text NOT NULL, pid int NOT NULL)`,
      ),
    server: { port: cluster.port, kill: () => cluster.killPostmaster(), start: () => cluster.start() },
    async stop() {
      await admin.end().catch(() => {});
      await cluster.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A private mariadbd with room for `maxConnections`; InnoDB, REPEATABLE READ, durable commits (its defaults). */
export async function startMySqlDatabase(maxConnections: number): Promise<ScenarioDatabase> {
  const server = await startMySqlServer({ 'max-connections': String(maxConnections) });
  const table = testTable('rel_store');
  const admin = mysql.createPool({ uri: server.url, connectionLimit: 2 });
  await createMySqlSchema(admin, { table });
  const dir = mkdtempSync(join(tmpdir(), 'trpc-idem-rel-'));
  const reader: SqlReader = {
    all: async (sql) => (await admin.query(sql))[0] as Array<Record<string, unknown>>,
    exec: async (sql) => {
      await admin.query(sql);
    },
    close: async () => {},
  };
  return {
    kind: 'mysql',
    serverConfig: (ledger, extra = {}) => ({
      store: 'mysql',
      mysqlUrl: server.url,
      table,
      sqlLedger: { ...ledger.tables, ...extra },
    }),
    createLedger: () =>
      SqlLedger.create(
        reader,
        dir,
        (ledger) =>
          `CREATE TABLE ${ledger} (id BIGINT AUTO_INCREMENT PRIMARY KEY, intent VARCHAR(100) NOT NULL, fence BIGINT NOT NULL, order_id VARCHAR(64) NOT NULL, pid INT NOT NULL) ENGINE = InnoDB`,
      ),
    server: { port: server.port, kill: () => server.kill(), start: () => server.start() },
    async stop() {
      await admin.end().catch(() => {});
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A SQLite file in a temporary directory of its own, in WAL mode, with the store's schema. */
export async function openSqliteDatabase(): Promise<ScenarioDatabase> {
  const dir = mkdtempSync(join(tmpdir(), 'trpc-idem-rel-'));
  const filename = join(dir, 'app.db');
  createSqliteSchema(filename);
  // The test only reads while the servers run; its own DDL runs before they start.
  const db = new Database(filename, { timeout: 10_000 });
  const reader: SqlReader = {
    all: async (sql) => db.prepare(sql).all() as Array<Record<string, unknown>>,
    exec: async (sql) => {
      db.exec(sql);
    },
    close: async () => {},
  };
  return {
    kind: 'sqlite',
    serverConfig: (ledger, extra = {}) => ({
      store: 'sqlite',
      sqliteFile: filename,
      sqlLedger: { ...ledger.tables, ...extra },
    }),
    createLedger: () =>
      SqlLedger.create(
        reader,
        dir,
        (ledger) =>
          `CREATE TABLE ${ledger} (id INTEGER PRIMARY KEY, intent TEXT NOT NULL, fence INTEGER NOT NULL, order_id TEXT NOT NULL, pid INTEGER NOT NULL)`,
      ),
    async stop() {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
