import { RedisStore } from '@trpc-idempotency/server';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClientRig, startClientRig } from '../support/clientHarness.js';
import { type RedisProcess, startRedis } from '../support/redisServer.js';

describe('a real store outage', () => {
  let redis: RedisProcess;
  let connection: Redis;
  let rig: ClientRig;
  beforeAll(async () => {
    redis = await startRedis();
    connection = new Redis(redis.url, { maxRetriesPerRequest: 0, retryStrategy: () => 50 });
    // Connection errors are the point of this test; the store reports them as 503s.
    connection.on('error', () => {});
    rig = await startClientRig({
      store: new RedisStore({ redis: connection, prefix: 'client-outage:', timeoutMs: 300 }),
    });
  });
  afterAll(async () => {
    await rig.close();
    connection.disconnect();
    await redis.stop();
  });

  it("retries a 503 STORE_UNAVAILABLE no sooner than the server's retryAfterMs, and runs once Redis is back", async () => {
    const planned: number[] = [];
    const client = rig.client({
      idempotency: {
        random: () => 0,
        attempts: 10,
        // The first planned delay is where Redis comes back; later ones run at once.
        schedule: (run, delayMs) => {
          planned.push(delayMs);
          const resume = planned.length === 1 ? restartRedis() : Promise.resolve();
          void resume.then(run);
          return () => {};
        },
      },
    });
    await redis.stop();

    const order = await client.orders.create.mutate({ item: 'outage' });

    const key = rig.events.at(-1)!.key;
    const failures = rig.events.filter((event) => event.key === key && event.outcome === 'retrying');
    expect(failures[0]).toMatchObject({ status: 503, reason: 'store_unavailable' });
    expect(planned[0]).toBeGreaterThanOrEqual(1000);
    expect(planned[0]).toBeLessThanOrEqual(5000);
    expect(rig.app.runsOf('ann', key)).toBe(1);
    expect(order.fence).toBe(1);
  });

  async function restartRedis(): Promise<void> {
    await redis.restart();
    if (connection.status !== 'ready') await new Promise((resolve) => connection.once('ready', resolve));
  }
});
