import { RedisStore } from '@trpc-idempotency/server';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postMutation, startTestApp } from '../support/app.js';
import { newKey } from '../support/backends.js';
import { type RedisClusterProcess, type RedisProcess, startRedis, startRedisCluster } from '../support/redisServer.js';

const TIMEOUT_MS = 500;

/** Runs DEBUG SLEEP on a node from a connection of its own, so the node stops answering everyone for a while. */
function freeze(port: number, seconds: number): Promise<void> {
  const admin = new Redis(port, '127.0.0.1');
  return admin
    .call('DEBUG', 'SLEEP', String(seconds))
    .then(() => undefined)
    .finally(() => admin.disconnect());
}

// MemoryStore lives in the process and cannot become unreachable, so this file covers the two Redis shapes.
describe('a store that is down or hangs, on a Redis single node', () => {
  let redisServer: RedisProcess;
  beforeAll(async () => {
    redisServer = await startRedis();
  });
  afterAll(async () => {
    await redisServer.stop();
  });

  it('answers 503 STORE_UNAVAILABLE while Redis hangs, before Redis wakes, and a later retry runs the handler', async () => {
    const redis = new Redis(redisServer.url, { maxRetriesPerRequest: 1 });
    const app = await startTestApp({ store: new RedisStore({ redis, timeoutMs: TIMEOUT_MS }) });
    try {
      const key = newKey();
      const headers = { 'idempotency-key': key, 'x-user': 'ann' };
      let awake = false;
      const sleeping = freeze(redisServer.port, 3).then(() => {
        awake = true;
      });
      await new Promise((resolve) => setTimeout(resolve, 100));
      const answer = await postMutation(app.url, 'orders.create', { item: 'lamp' }, headers);
      expect(awake).toBe(false);
      expect(answer.status).toBe(503);
      expect(answer.error?.data.code).toBe('SERVICE_UNAVAILABLE');
      expect(answer.error?.data.idempotency.code).toBe('STORE_UNAVAILABLE');
      expect(answer.headers.get('retry-after')).toBe('1');
      expect(app.runsOf('ann', key)).toBe(0);

      // The claim that timed out still ran once Redis woke; the release queued behind it let go of it,
      // so the retry runs now instead of waiting out a 30 s lease.
      await sleeping;
      const retry = await postMutation(app.url, 'orders.create', { item: 'lamp' }, headers);
      expect(retry.status).toBe(200);
      expect(app.runsOf('ann', key)).toBe(1);
    } finally {
      await app.close();
      redis.disconnect();
    }
  });

  it('answers 503 at once once Redis is stopped, and runs the handler unprotected in fail-open mode', async () => {
    const redis = new Redis(redisServer.url, { maxRetriesPerRequest: 1 });
    const closed = await startTestApp({ store: new RedisStore({ redis, timeoutMs: TIMEOUT_MS }) });
    const open = await startTestApp({
      store: new RedisStore({ redis, timeoutMs: TIMEOUT_MS }),
      onStoreError: 'fail-open',
    });
    try {
      const key = newKey();
      const headers = { 'idempotency-key': key, 'x-user': 'ann' };
      expect(
        (
          await postMutation(
            closed.url,
            'orders.create',
            { item: 'warm-up' },
            { ...headers, 'idempotency-key': newKey() },
          )
        ).status,
      ).toBe(200);

      await redisServer.stop();
      const answer = await postMutation(closed.url, 'orders.create', { item: 'lamp' }, headers);
      expect(answer.status).toBe(503);
      expect(answer.error?.data.idempotency.code).toBe('STORE_UNAVAILABLE');
      expect(closed.runsOf('ann', key)).toBe(0);
      expect(closed.effects.events.some((event) => event.type === 'storeError')).toBe(true);

      const failOpen = await postMutation(open.url, 'orders.create', { item: 'lamp' }, headers);
      expect(failOpen.status).toBe(200);
      expect(failOpen.data.fence).toBe(0);
      expect(open.runsOf('ann', key)).toBe(1);
    } finally {
      await closed.close();
      await open.close();
      redis.disconnect();
      await redisServer.restart();
    }
  });
});

describe('a store that is down or hangs, on a Redis Cluster', () => {
  let cluster: RedisClusterProcess;
  beforeAll(async () => {
    cluster = await startRedisCluster(3, 0);
  });
  afterAll(async () => {
    await cluster.stop();
  });

  /** The test app on the cluster, with one request already through so that every connection is up. */
  async function openWarmApp() {
    const redis = new Cluster(cluster.startupNodes, { redisOptions: { maxRetriesPerRequest: 1 } });
    redis.on('error', () => {}); // the outage is the point of the test
    const app = await startTestApp({ store: new RedisStore({ redis, timeoutMs: TIMEOUT_MS }) });
    const warmUp = await postMutation(
      app.url,
      'orders.create',
      { item: 'warm-up' },
      { 'idempotency-key': newKey(), 'x-user': 'ann' },
    );
    expect(warmUp.status).toBe(200);
    return { redis, app };
  }

  it('answers 503 STORE_UNAVAILABLE while every master hangs, before they wake', async () => {
    const { redis, app } = await openWarmApp();
    try {
      const key = newKey();
      const headers = { 'idempotency-key': key, 'x-user': 'ann' };
      let awake = false;
      const sleeping = Promise.all(cluster.nodes.map((node) => freeze(node.port, 3))).then(() => {
        awake = true;
      });
      await new Promise((resolve) => setTimeout(resolve, 100));
      const answer = await postMutation(app.url, 'orders.create', { item: 'lamp' }, headers);
      expect(awake).toBe(false);
      expect(answer.status).toBe(503);
      expect(answer.error?.data.idempotency.code).toBe('STORE_UNAVAILABLE');
      expect(app.runsOf('ann', key)).toBe(0);
      await sleeping;
    } finally {
      await app.close();
      redis.disconnect();
    }
  });

  it('answers 503 STORE_UNAVAILABLE once the cluster is stopped, with no hang', async () => {
    const { redis, app } = await openWarmApp();
    try {
      const key = newKey();
      const headers = { 'idempotency-key': key, 'x-user': 'ann' };
      await Promise.all(cluster.nodes.map((node) => node.stop()));
      const answer = await postMutation(app.url, 'orders.create', { item: 'lamp' }, headers);
      expect(answer.status).toBe(503);
      expect(answer.error?.data.idempotency.code).toBe('STORE_UNAVAILABLE');
      expect(app.runsOf('ann', key)).toBe(0);
    } finally {
      await app.close();
      redis.disconnect();
    }
  }, 15_000);
});
