import { RedisStore } from '@trpc-idempotency/server';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisProcess, startRedis } from '../support/redisServer.js';

/*
 * RedisStore's one subscriber connection (packages/server/src/store/redisWatches.ts), while ioredis is still
 * setting it up: found by test/reliability/waitStorm.test.ts, where duplicates that arrived in that moment
 * lost their subscription, and so their push.
 */

let redis: RedisProcess;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

/** Channels each subscriber connection of the server has, by `CLIENT LIST`. */
async function subscribedChannels(admin: Redis): Promise<number[]> {
  const list = (await admin.client('LIST')) as string;
  return list
    .split('\n')
    .filter((line) => / flags=\S*P/.test(line))
    .map((line) => Number(/ sub=(\d+)/.exec(line)?.[1] ?? 0));
}

describe('RedisStore subscriber connection', () => {
  it('keeps a watch that starts while the connection is between connect and ready, and hears its record', async () => {
    const client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    const admin = new Redis(redis.url);
    // The subscriber the store makes, lazy, so that the test sees its 'connect' and starts a watch right then.
    const subscriber = client.duplicate({ lazyConnect: true });
    (client as unknown as { duplicate: () => Redis }).duplicate = () => subscriber;
    const store = new RedisStore({ redis: client, prefix: 'sub-test:' });
    try {
      const first = store.watch!('first');
      let statusAtSecond = '';
      const second = new Promise<ReturnType<NonNullable<RedisStore['watch']>>>((resolve) => {
        subscriber.once('connect', () => {
          statusAtSecond = subscriber.status;
          resolve(store.watch!('second'));
        });
      });
      const secondWatch = await second;
      expect(statusAtSecond).toBe('connect');
      const ready = await Promise.allSettled([first.ready, secondWatch.ready]);
      expect(ready.map((result) => result.status)).toEqual(['fulfilled', 'fulfilled']);
      expect(await subscribedChannels(admin)).toEqual([2]);
      // What a completion's script publishes (on the record key's own name) wakes the second watch.
      const woken = secondWatch.changed({ timeoutMs: 60_000 });
      expect(await admin.publish('sub-test:second', '1')).toBe(1);
      await woken;
      first.close();
      secondWatch.close();
    } finally {
      store.close();
      client.disconnect();
      admin.disconnect();
    }
  });
});
