import { drainIdempotency } from '@trpc-idempotency/server';
import { describe, expect, it } from 'vitest';
import { postMutation, startTestApp } from '../support/app.js';
import { backends, newKey } from '../support/backends.js';

// A file of its own: drainIdempotency() closes every middleware of the process for good.
const user = 'drain-user';
const headersFor = (key: string) => ({ 'idempotency-key': key, 'x-user': user });

describe('drainIdempotency()', () => {
  it('drains every middleware of the process at once', async () => {
    const open = await backends()[0]!.create();
    const [one, two] = [await startTestApp({ store: open.store }), await startTestApp({ store: open.store })];
    try {
      const keys = [newKey('a'), newKey('b')];
      const calls = [
        postMutation(one.url, 'orders.create', { item: 'a', sleepMs: 200 }, headersFor(keys[0]!)),
        postMutation(two.url, 'orders.create', { item: 'b', sleepMs: 200 }, headersFor(keys[1]!)),
      ];
      await expect.poll(() => one.runsOf(user, keys[0]!) + two.runsOf(user, keys[1]!)).toBe(2);
      const report = await drainIdempotency({ timeoutMs: 5000 });
      expect(report).toMatchObject({ finished: 2, released: [], unsettled: [] });
      expect((await Promise.all(calls)).map((answer) => answer.status)).toEqual([200, 200]);
      for (const app of [one, two]) {
        const refused = await postMutation(app.url, 'orders.create', { item: 'c' }, headersFor(newKey('c')));
        expect(refused.error?.data.idempotency.code).toBe('SERVER_DRAINING');
      }
    } finally {
      await Promise.all([one.close(), two.close()]);
      await open.close();
    }
  });
});
