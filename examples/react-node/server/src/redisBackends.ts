import { once } from 'node:events';
import { RedisStore } from '@trpc-idempotency/server';
import { Redis, type RedisOptions } from 'ioredis';
import type { Backends } from './backends.js';
import { RedisLedger } from './redisLedger.js';

/**
 * Every Redis connection of the example fails fast when Redis is gone, so that no request waits on it:
 * one retry per command at most (ioredis' default of 20 made a ledger read take 34 s), and each command
 * bounded in time. Reconnecting goes on in the background with ioredis' default backoff.
 */
const BOUNDED: RedisOptions = {
  lazyConnect: true,
  maxRetriesPerRequest: 1,
  commandTimeout: 1500,
  connectTimeout: 2000,
};

/**
 * Payments and idempotency records in Redis, on two connections: the idempotency store's own, so that
 * the chaos panel can cut it while the ledger stays up, and the ledger's.
 *
 * @example
 * const backends = await createRedisBackends('redis://127.0.0.1:6379');
 */
export async function createRedisBackends(redisUrl: string): Promise<Backends> {
  // The store keeps the offline queue: RedisStore already refuses at once while the connection is down
  // (503 STORE_UNAVAILABLE), and bounds each call by its timeoutMs; the queue is what lets its release
  // of a timed-out claim follow the claim.
  const storeRedis = new Redis(redisUrl, BOUNDED);
  // The ledger does not queue commands while disconnected: a read of the ledger fails at once (the page
  // then keeps its last good list and says so) instead of waiting for a reconnect.
  const ledgerRedis = new Redis(redisUrl, { ...BOUNDED, enableOfflineQueue: false });
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
      if (last) console.warn(`Redis (${name}): connected again`);
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
  const { host, port } = storeRedis.options;
  return {
    kind: 'redis',
    where: `Redis at ${host}:${port}`,
    store: new RedisStore({ redis: storeRedis, prefix: 'trpc-idempotency-example:idem:' }),
    ledger: new RedisLedger(ledgerRedis),
    // ioredis knows at once when its socket closes; no command is needed to tell.
    health: () => ({ store: storeRedis.status === 'ready', ledger: ledgerRedis.status === 'ready' }),
    setStoreReachable: async (reachable) => {
      // With Redis itself down the connect fails; ioredis then keeps reconnecting in the background.
      if (reachable && storeRedis.status === 'end') await storeRedis.connect().catch(() => {});
      if (!reachable && storeRedis.status !== 'end') {
        // The status turns 'end' only once the socket has closed: wait for it, so that the chaos panel's
        // answer (and the status query after it) already see the store as cut off.
        const ended = once(storeRedis, 'end');
        storeRedis.disconnect();
        await ended;
      }
    },
    close: async () => {
      storeRedis.disconnect();
      ledgerRedis.disconnect();
    },
  };
}
