import { randomUUID } from 'node:crypto';
import { RedisStore } from '@trpc-idempotency/server';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisProcess, startRedis } from '../support/redisServer.js';

// RedisStore's waitForReplicas sends WAIT after each claim and completion. The Cluster failover
// scenario (test/reliability/clusterFailover.test.ts) measures what it changes; this file checks its
// contract on a master with one real replica, and on a master without any.
describe('RedisStore waitForReplicas', () => {
  let master: RedisProcess;
  let replica: RedisProcess;
  beforeAll(async () => {
    master = await startRedis();
    replica = await startRedis();
    const admin = new Redis(replica.url);
    await admin.call('REPLICAOF', '127.0.0.1', String(master.port));
    admin.disconnect();
  });
  afterAll(async () => {
    await Promise.all([master?.stop(), replica?.stop()]);
  });

  /** How many WAIT commands the server ran, from INFO commandstats. */
  const waitCalls = async (redis: Redis) =>
    Number(/cmdstat_wait:calls=(\d+)/.exec(String(await redis.info('commandstats')))?.[1] ?? 0);

  const request = () => ({
    recordKey: `{${randomUUID()}}`,
    fingerprint: 'f',
    token: randomUUID(),
    leaseMs: 5000,
    retentionMs: 60_000,
  });

  it('rejects a malformed option', () => {
    const redis = new Redis(master.url, { lazyConnect: true });
    expect(() => new RedisStore({ redis, waitForReplicas: { replicas: 0, timeoutMs: 100 } })).toThrow(TypeError);
    expect(() => new RedisStore({ redis, waitForReplicas: { replicas: 1, timeoutMs: 0 } })).toThrow(TypeError);
    redis.disconnect();
  });

  it('claims and completes as before, and the replica already holds the record when the claim returns', async () => {
    const redis = new Redis(master.url, { maxRetriesPerRequest: 1 });
    const onReplica = new Redis(replica.url);
    try {
      await expect
        .poll(async () => String(await onReplica.info('replication')).includes('master_link_status:up'), {
          timeout: 10_000,
        })
        .toBe(true);
      const store = new RedisStore({ redis, prefix: 'wait:', waitForReplicas: { replicas: 1, timeoutMs: 1000 } });
      const claim = request();
      expect(await store.claim(claim)).toEqual({ status: 'claimed', fence: 1 });
      expect(await onReplica.hget(`wait:${claim.recordKey}`, 't')).toBe(claim.token);
      expect(await store.complete({ ...claim, outcome: 'out' })).toBe(true);
      expect(await onReplica.hget(`wait:${claim.recordKey}`, 's')).toBe('c');
      expect(await store.claim({ ...claim, token: randomUUID() })).toEqual({ status: 'completed', outcome: 'out' });
      expect(await waitCalls(redis)).toBe(3);
    } finally {
      redis.disconnect();
      onReplica.disconnect();
    }
  });

  it('still answers when no replica acknowledges: WAIT runs to its timeout and the write counts', async () => {
    const alone = await startRedis();
    const redis = new Redis(alone.url, { maxRetriesPerRequest: 1 });
    try {
      const store = new RedisStore({ redis, waitForReplicas: { replicas: 1, timeoutMs: 50 } });
      const claim = request();
      expect(await store.claim(claim)).toEqual({ status: 'claimed', fence: 1 });
      expect(await store.complete({ ...claim, outcome: 'out' })).toBe(true);
      expect(await waitCalls(redis)).toBe(2);
    } finally {
      redis.disconnect();
      await alone.stop();
    }
  });
});
