import { RedisStore, StoreMisconfiguredError } from '@trpc-idempotency/server';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postMutation, startTestApp } from '../support/app.js';
import { newKey } from '../support/backends.js';
import { type RedisProcess, startRedis } from '../support/redisServer.js';

// docs/protocol.md §3: a Redis whose eviction policy could drop records is refused at start, unless the app
// accepts the risk on purpose; one that refuses writes when full (noeviction) answers 503, and nothing runs twice.
describe.each(['allkeys-lru', 'volatile-lru'])('a Redis with maxmemory-policy %s', (policy) => {
  let server: RedisProcess;
  let redis: Redis;
  beforeAll(async () => {
    server = await startRedis(['--maxmemory', '6mb', '--maxmemory-policy', policy]);
    redis = new Redis(server.url, { maxRetriesPerRequest: 1 });
  });
  afterAll(async () => {
    redis.disconnect();
    await server.stop();
  });

  it('is refused at start with StoreMisconfiguredError, saying why and what to do', async () => {
    const ready = new RedisStore({ redis, prefix: `${newKey()}:` }).ready();
    await expect(ready).rejects.toBeInstanceOf(StoreMisconfiguredError);
    await expect(ready).rejects.toThrow(`maxmemory-policy ${policy} (maxmemory 6.00M)`);
    await expect(ready).rejects.toThrow(/Set maxmemory-policy noeviction.*a Redis of its own.*allowEviction: true/);
  });

  it.each(['fail-closed', 'fail-open'] as const)(
    'answers keyed calls 503 STORE_UNAVAILABLE and runs no handler, with onStoreError: %s',
    async (onStoreError) => {
      const app = await startTestApp({ store: new RedisStore({ redis, prefix: `${newKey()}:` }), onStoreError });
      try {
        const answer = await postMutation(
          app.url,
          'orders.create',
          { item: 'x' },
          { 'x-user': 'ann', 'idempotency-key': newKey() },
        );
        expect(answer.status).toBe(503);
        expect(answer.error?.data.idempotency?.code).toBe('STORE_UNAVAILABLE');
        expect(app.effects.orders).toHaveLength(0);
        expect(app.effects.events.find((event) => event.type === 'storeError')?.error).toBeInstanceOf(
          StoreMisconfiguredError,
        );
      } finally {
        await app.close();
      }
    },
  );

  it('is accepted with allowEviction: true, the risk taken on purpose', async () => {
    const store = await new RedisStore({ redis, prefix: `${newKey()}:`, allowEviction: true }).ready();
    const claim = await store.claim({
      recordKey: newKey(),
      fingerprint: 'f',
      token: 't',
      leaseMs: 1000,
      retentionMs: 10_000,
    });
    expect(claim).toEqual({ status: 'claimed', fence: 1 });
  });
});

describe('a Redis at maxmemory with noeviction', () => {
  let server: RedisProcess;
  let redis: Redis;
  beforeAll(async () => {
    server = await startRedis(['--maxmemory', '2mb', '--maxmemory-policy', 'noeviction']);
    redis = new Redis(server.url, { maxRetriesPerRequest: 1 });
  });
  afterAll(async () => {
    redis.disconnect();
    await server.stop();
  });

  it('answers 503 STORE_FULL within timeoutMs once full, runs nothing unprotected (fail-open or not), forgets nothing', async () => {
    const timeoutMs = 500;
    const store = await new RedisStore({ redis, prefix: 'full:', timeoutMs }).ready();
    const app = await startTestApp({ store, onStoreError: 'fail-open' });
    try {
      const paid: Array<{ key: string; bytes: number }> = [];
      const refused: number[] = [];
      for (let i = 0; i < 3000 && refused.length < 5; i++) {
        const key = newKey();
        const startedAt = performance.now();
        const answer = await postMutation(
          app.url,
          'orders.report',
          { bytes: 20_000 },
          { 'x-user': 'ann', 'idempotency-key': key },
        );
        if (answer.status === 200) paid.push({ key, bytes: 20_000 });
        else {
          expect(answer.status).toBe(503);
          expect(answer.error?.data.idempotency?.code).toBe('STORE_FULL');
          refused.push(performance.now() - startedAt);
        }
      }
      const memory = await redis.info('memory');
      expect(
        refused.length,
        `the Redis never filled up: ${paid.length} paid, ${memory.match(/used_memory_human:\S+/)}`,
      ).toBe(5);
      for (const ms of refused) expect(ms).toBeLessThan(timeoutMs + 250);
      // No handler ran twice, and none ran for a refused call: runs are exactly the answered calls' intents.
      const runs = [...app.effects.runs.values()];
      expect(runs.every((count) => count === 1)).toBe(true);
      expect(app.effects.runs.size).toBe(paid.length);
      // Every outcome that was stored is still there: noeviction forgets nothing.
      let replayed = 0;
      for (const { key, bytes } of paid) {
        const again = await postMutation(
          app.url,
          'orders.report',
          { bytes },
          { 'x-user': 'ann', 'idempotency-key': key },
        );
        // A completion Redis refused for want of memory leaves its lease to run out: 409 until then, never a rerun.
        if (again.headers.get('idempotent-replayed') === 'true') replayed++;
        else expect([409, 503]).toContain(again.status);
      }
      expect(replayed).toBeGreaterThan(0);
      expect([...app.effects.runs.values()].every((count) => count === 1)).toBe(true);
    } finally {
      await app.close();
    }
  });
});
