import { type IdempotencyStore, MemoryStore, RedisStore } from '@trpc-idempotency/server';
import { Redis } from 'ioredis';
import { type Ledger, MemoryLedger, RedisLedger } from './ledger.js';

/** Where the example keeps its payments and idempotency records, and how the chaos panel can cut the store off. */
export interface Backends {
  kind: 'memory' | 'redis';
  store: IdempotencyStore;
  ledger: Ledger;
  /** Cuts the idempotency store's Redis connection, or restores it. Null on the memory backend. */
  setStoreReachable: ((reachable: boolean) => Promise<void>) | null;
  close(): Promise<void>;
}

/**
 * Memory by default; Redis for both the ledger and the idempotency store when a URL is given.
 *
 * @example
 * const backends = await createBackends(process.env.REDIS_URL);
 */
export async function createBackends(redisUrl: string | undefined): Promise<Backends> {
  if (!redisUrl) {
    return {
      kind: 'memory',
      store: new MemoryStore(),
      ledger: new MemoryLedger(),
      setStoreReachable: null,
      close: async () => {},
    };
  }
  // The store gets a connection of its own, so that the chaos panel can cut it while the ledger stays up.
  const storeRedis = new Redis(redisUrl, { maxRetriesPerRequest: 1, lazyConnect: true });
  const ledgerRedis = new Redis(redisUrl, { lazyConnect: true });
  for (const [name, redis] of [
    ['idempotency store', storeRedis],
    ['ledger', ledgerRedis],
  ] as const) {
    let last = '';
    // Without a listener ioredis prints every failed reconnect; say each distinct problem once.
    redis.on('error', (error: Error) => {
      if (error.message !== last) console.warn(`Redis (${name}): ${error.message}`);
      last = error.message;
    });
    redis.on('ready', () => {
      last = '';
    });
  }
  try {
    await Promise.all([storeRedis.connect(), ledgerRedis.connect()]);
  } catch (error) {
    storeRedis.disconnect();
    ledgerRedis.disconnect();
    throw error;
  }
  return {
    kind: 'redis',
    store: new RedisStore({ redis: storeRedis, prefix: 'trpc-idempotency-example:idem:' }),
    ledger: new RedisLedger(ledgerRedis),
    setStoreReachable: async (reachable) => {
      if (reachable && storeRedis.status === 'end') await storeRedis.connect();
      if (!reachable && storeRedis.status !== 'end') storeRedis.disconnect();
    },
    close: async () => {
      storeRedis.disconnect();
      await ledgerRedis.quit();
    },
  };
}
