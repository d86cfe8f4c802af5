import { randomUUID } from 'node:crypto';
import { PostgresStore } from '@trpc-idempotency/postgres';
import { type IdempotencyStore, MemoryStore, RedisStore } from '@trpc-idempotency/server';
import { Cluster, Redis } from 'ioredis';
import type pg from 'pg';
import { inject } from 'vitest';
import { openMySqlStore } from './mysql.js';
import { openPostgresStore, testPool } from './postgres.js';
import { openSqliteStore } from './sqlite.js';

/** One of the stores every server test runs on. */
export interface Backend {
  name: 'MemoryStore' | 'Redis single node' | 'Redis Cluster' | 'PostgreSQL' | 'SQLite' | 'MariaDB';
  create(options?: { timeoutMs?: number }): Promise<OpenBackend>;
}

/** A store opened for one test file, with the client under it. */
export interface OpenBackend {
  store: IdempotencyStore;
  redis?: Redis | Cluster;
  /** The pool of a PostgresStore; `prefix` is then its table. */
  pool?: pg.Pool;
  prefix: string;
  /**
   * A second store on the same records, with connections of its own, as another process would open it:
   * for what one store must hear of another's writes (watches). Absent for MemoryStore, which is one process.
   */
  twin?(): Promise<{ store: IdempotencyStore; close(): Promise<void> }>;
  close(): Promise<void>;
}

/** Connects ioredis to the shared single node, failing fast rather than queueing forever. */
export function connectRedis(url = inject('redisUrl')): Redis {
  return new Redis(url, { maxRetriesPerRequest: 1, lazyConnect: false });
}

/** Connects ioredis to the shared cluster. */
export function connectCluster(nodes = inject('redisCluster')): Cluster {
  if (!nodes) throw new Error('No Redis Cluster in this run.');
  return new Cluster(nodes, { redisOptions: { maxRetriesPerRequest: 1 } });
}

async function ready(redis: Redis | Cluster): Promise<void> {
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    redis.once('ready', resolve);
    redis.once('error', reject);
  });
}

function redisBackend(name: Backend['name'], connect: () => Redis | Cluster): Backend {
  return {
    name,
    async create(options = {}) {
      const redis = connect();
      await ready(redis);
      const prefix = `idem-test-${randomUUID().slice(0, 8)}:`;
      const store = new RedisStore({ redis, prefix, timeoutMs: options.timeoutMs });
      return {
        store,
        redis,
        prefix,
        async twin() {
          const other = connect();
          await ready(other);
          const twin = new RedisStore({ redis: other, prefix, timeoutMs: options.timeoutMs });
          return {
            store: twin,
            close: async () => {
              twin.close();
              other.disconnect();
            },
          };
        },
        close: async () => {
          store.close();
          redis.disconnect();
        },
      };
    },
  };
}

/** A PostgresStore on a table of its own in the run's test database (test/support/postgresDatabase.ts). */
function postgresBackend(url: string): Backend {
  return {
    name: 'PostgreSQL',
    async create(options = {}) {
      const { store, pool, table, drop } = await openPostgresStore(url, { timeoutMs: options.timeoutMs });
      return {
        store,
        pool,
        prefix: table,
        async twin() {
          const otherPool = testPool(url, 5);
          const twin = new PostgresStore({ pool: otherPool, table, timeoutMs: options.timeoutMs });
          return {
            store: twin,
            close: async () => {
              await twin.close();
              await otherPool.end();
            },
          };
        },
        close: async () => {
          await store.close();
          await drop();
        },
      };
    },
  };
}

/**
 * The stores that the server suite runs on: memory, a Redis node, and when there is one, a Redis Cluster
 * and PostgreSQL (without PostgreSQL the global setup said how to install it).
 */
export function backends(): Backend[] {
  const list: Backend[] = [
    {
      name: 'MemoryStore',
      async create() {
        const store = new MemoryStore();
        return { store, prefix: '', close: async () => store.close() };
      },
    },
    redisBackend('Redis single node', () => connectRedis()),
  ];
  if (inject('redisCluster')) list.push(redisBackend('Redis Cluster', () => connectCluster()));
  const postgresUrl = inject('postgresUrl');
  if (postgresUrl) list.push(postgresBackend(postgresUrl));
  const mysqlUrl = inject('mysqlUrl');
  if (mysqlUrl) {
    list.push({
      name: 'MariaDB',
      async create(options = {}) {
        // A MySqlStore on a table of its own in the run's test database (test/support/mysqlDatabase.ts).
        const { store, table, drop } = await openMySqlStore(mysqlUrl, { timeoutMs: options.timeoutMs });
        return { store, prefix: table, close: drop };
      },
    });
  }
  list.push({
    name: 'SQLite',
    async create(options = {}) {
      // A file of its own in a temporary directory per test file; better-sqlite3 needs no server.
      const { store, remove } = await openSqliteStore({ timeoutMs: options.timeoutMs });
      return { store, prefix: '', close: remove };
    },
  });
  return list;
}

/** A fresh random key, so that parallel tests on one Redis never meet. */
export function newKey(label = 'key'): string {
  return `${label}-${randomUUID()}`;
}
