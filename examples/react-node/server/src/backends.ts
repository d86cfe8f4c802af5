import { type IdempotencyStore, MemoryStore, type TransactionalStore } from '@trpc-idempotency/server';
import type Database from 'better-sqlite3';
import type { PoolClient } from 'pg';
import { type Ledger, MemoryLedger, type TransactionalLedger } from './ledger.js';
import { createPostgresBackends, type PostgresTables } from './postgresBackends.js';
import { createRedisBackends } from './redisBackends.js';
import { createSqliteBackends, type SqliteBackendOptions } from './sqliteBackends.js';

/** Which kind of storage holds the payments and the idempotency records. */
export type BackendKind = 'memory' | 'redis' | 'postgres' | 'sqlite';

/** Whether each part can be reached right now, as far as the server knows without asking. */
export interface BackendHealth {
  store: boolean;
  ledger: boolean;
}

/**
 * The idempotency store and the ledger, in the two ways the example writes a payment: with the fence
 * (memory, Redis: the ledger refuses a late write), or inside the store's transaction (PostgreSQL, SQLite:
 * a late write cannot commit).
 */
export type Payments =
  | { kind: 'memory' | 'redis'; store: IdempotencyStore; ledger: Ledger }
  | { kind: 'postgres'; store: TransactionalStore<PoolClient>; ledger: TransactionalLedger<PoolClient> }
  | { kind: 'sqlite'; store: TransactionalStore<Database.Database>; ledger: TransactionalLedger<Database.Database> };

/** Where the example keeps its payments and idempotency records, and how the chaos panel can cut the store off. */
export type Backends = Payments & {
  /** Where the data lives, in words: "this server's memory", "Redis at 127.0.0.1:6379". */
  where: string;
  health(): BackendHealth;
  /** Cuts the idempotency store's connection, or restores it. Null where there is no connection to cut. */
  setStoreReachable: ((reachable: boolean) => Promise<void>) | null;
  close(): Promise<void>;
};

/**
 * Where to keep the data, first match wins: PostgreSQL, Redis, a SQLite file. With none set, everything
 * stays in the server's memory (`npm start` and `npm run serve` give a SQLite file by default: main.ts).
 */
export interface BackendOptions {
  /** Payments and idempotency records go to this PostgreSQL database. */
  databaseUrl?: string;
  /** The PostgreSQL tables; tests that share a database give their own. */
  postgresTables?: PostgresTables;
  /** Payments and idempotency records go to this Redis. */
  redisUrl?: string;
  /** Payments and idempotency records go to this SQLite file (created with its directory if missing). */
  sqliteFile?: string;
  /** How the SQLite store treats a handler's transaction. */
  sqlite?: SqliteBackendOptions;
}

/**
 * Picks the backend: the one place that knows which storages exist. PostgreSQL, Redis or a SQLite file
 * for both the ledger and the idempotency store when one is given; memory otherwise.
 *
 * @example
 * const backends = await createBackends({ databaseUrl: process.env.DATABASE_URL, sqliteFile: '.data/payments.db' });
 */
export async function createBackends(options: BackendOptions = {}): Promise<Backends> {
  if (options.databaseUrl) return createPostgresBackends(options.databaseUrl, options.postgresTables);
  if (options.redisUrl) return createRedisBackends(options.redisUrl);
  if (options.sqliteFile) return createSqliteBackends(options.sqliteFile, options.sqlite);
  return {
    kind: 'memory',
    where: "this server's memory",
    store: new MemoryStore(),
    ledger: new MemoryLedger(),
    health: () => ({ store: true, ledger: true }),
    setStoreReachable: null,
    close: async () => {},
  };
}
