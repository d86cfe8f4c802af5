import { type IdempotencyStore, MemoryStore, type TransactionalStore } from '@trpc-idempotency/server';
import type { PoolClient } from 'pg';
import { type Ledger, MemoryLedger } from './ledger.js';
import { createPostgresBackends, type PostgresTables } from './postgresBackends.js';
import type { TransactionalLedger } from './postgresLedger.js';
import { createRedisBackends } from './redisBackends.js';

/** Which kind of storage holds the payments and the idempotency records. */
export type BackendKind = 'memory' | 'redis' | 'postgres';

/** Whether each part can be reached right now, as far as the server knows without asking. */
export interface BackendHealth {
  store: boolean;
  ledger: boolean;
}

/**
 * The idempotency store and the ledger, in the two ways the example writes a payment: with the fence
 * (memory, Redis: the ledger refuses a late write), or inside the store's transaction (PostgreSQL: a
 * late write cannot commit).
 */
export type Payments =
  | { kind: 'memory' | 'redis'; store: IdempotencyStore; ledger: Ledger }
  | { kind: 'postgres'; store: TransactionalStore<PoolClient>; ledger: TransactionalLedger };

/** Where the example keeps its payments and idempotency records, and how the chaos panel can cut the store off. */
export type Backends = Payments & {
  /** Where the data lives, in words: "this server's memory", "Redis at 127.0.0.1:6379". */
  where: string;
  health(): BackendHealth;
  /** Cuts the idempotency store's connection, or restores it. Null where there is no connection to cut. */
  setStoreReachable: ((reachable: boolean) => Promise<void>) | null;
  close(): Promise<void>;
};

/** Where to keep the data. With nothing set, everything stays in the server's memory. */
export interface BackendOptions {
  /** Payments and idempotency records go to this PostgreSQL database (it wins over `redisUrl`). */
  databaseUrl?: string;
  /** The PostgreSQL tables; tests that share a database give their own. */
  postgresTables?: PostgresTables;
  /** Payments and idempotency records go to this Redis. */
  redisUrl?: string;
}

/**
 * Picks the backend: the one place that knows which storages exist. Memory by default; PostgreSQL or
 * Redis for both the ledger and the idempotency store when a URL is given.
 *
 * @example
 * const backends = await createBackends({ databaseUrl: process.env.DATABASE_URL, redisUrl: process.env.REDIS_URL });
 */
export async function createBackends(options: BackendOptions = {}): Promise<Backends> {
  if (options.databaseUrl) return createPostgresBackends(options.databaseUrl, options.postgresTables);
  if (options.redisUrl) return createRedisBackends(options.redisUrl);
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
