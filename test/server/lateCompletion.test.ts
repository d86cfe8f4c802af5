import { type IdempotencyStore, MemoryStore, StoreUnavailableError } from '@trpc-idempotency/server';
import { describe, expect, it } from 'vitest';
import { postMutation, startTestApp } from '../support/app.js';
import { newKey } from '../support/backends.js';

// Regression for the Redis-restart reliability scenario (test/reliability/redisRestart.test.ts): a
// handler finished while Redis was down, its caller got the result, and the failed completion left
// the record in progress. Once the lease ran out, a retry ran the handler again with another result.
// A store that fails its first completions on cue stands in for the outage, which the real Redis
// cannot be made to produce at exactly that moment.
function storeWhoseCompletionsFail(times: number) {
  const inner = new MemoryStore();
  let failures = 0;
  const store: IdempotencyStore = {
    claim: (request) => inner.claim(request),
    release: (request) => inner.release(request),
    renewLease: (request) => inner.renewLease(request),
    complete: (request) => {
      if (failures < times) {
        failures++;
        return Promise.reject(new StoreUnavailableError('Redis is not connected (status: reconnecting).'));
      }
      return inner.complete(request);
    },
  };
  return { store, close: () => inner.close(), failures: () => failures };
}

describe('a completion that fails because the store is briefly down', () => {
  it('is stored later, so a retry after the lease ran out replays the first result instead of running again', async () => {
    const flaky = storeWhoseCompletionsFail(3);
    const app = await startTestApp({ store: flaky.store, leaseMs: 100 });
    try {
      const key = newKey();
      const headers = { 'idempotency-key': key, 'x-user': 'ann' };
      const first = await postMutation(app.url, 'orders.create', { item: 'book' }, headers);
      expect(first.status).toBe(200);
      expect(app.effects.events.map((event) => event.type)).toContain('storeError');

      await expect
        .poll(() => app.effects.events.some((event) => event.type === 'completed'), { timeout: 5000 })
        .toBe(true);
      expect(flaky.failures()).toBe(3);
      // Well past the 100 ms lease: without the late completion, this retry would take over and run again.
      await new Promise((resolve) => setTimeout(resolve, 300));
      const retry = await postMutation(app.url, 'orders.create', { item: 'book' }, headers);
      expect(retry.status).toBe(200);
      expect(retry.headers.get('idempotent-replayed')).toBe('true');
      expect(retry.data.orderId).toBe(first.data.orderId);
      expect(app.runsOf('ann', key)).toBe(1);
    } finally {
      await app.close();
      flaky.close();
    }
  });

  it('is refused, not forced, when a newer holder took the record over in the meantime', async () => {
    const flaky = storeWhoseCompletionsFail(Number.POSITIVE_INFINITY);
    const app = await startTestApp({ store: flaky.store, leaseMs: 100 });
    try {
      const key = newKey();
      const headers = { 'idempotency-key': key, 'x-user': 'ann' };
      const first = await postMutation(app.url, 'orders.create', { item: 'book' }, headers);
      expect(first.status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 300));
      // The store still fails completions, so the lease ran out and this retry takes over (fence 2).
      const second = await postMutation(app.url, 'orders.create', { item: 'book' }, headers);
      expect(second.status).toBe(200);
      expect(second.data.fence).toBe(2);
      expect(app.runsOf('ann', key)).toBe(2);
    } finally {
      await app.close();
      flaky.close();
    }
  });
});
