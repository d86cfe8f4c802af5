import type { IdempotencyStore } from '@trpc-idempotency/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postMutation, startTestApp } from '../support/app.js';
import { backends, newKey, type OpenBackend } from '../support/backends.js';

describe.each(backends())('concurrent duplicates on $name', (backend) => {
  let open: OpenBackend;
  beforeAll(async () => {
    open = await backend.create();
  });
  afterAll(async () => {
    await open.close();
  });

  it('runs an intent sent 50 times at once exactly once; the rest get the result or 409 IN_PROGRESS', async () => {
    const app = await startTestApp({ store: open.store });
    try {
      const key = newKey();
      const answers = await Promise.all(
        Array.from({ length: 50 }, () =>
          postMutation(
            app.url,
            'orders.create',
            { item: 'book', sleepMs: 200 },
            { 'idempotency-key': key, 'x-user': 'ann' },
          ),
        ),
      );
      expect(app.runsOf('ann', key)).toBe(1);
      expect(app.effects.orders).toHaveLength(1);
      const successes = answers.filter((answer) => answer.status === 200);
      const conflicts = answers.filter((answer) => answer.status === 409);
      expect(successes.length + conflicts.length).toBe(50);
      expect(successes.length).toBeGreaterThanOrEqual(1);
      for (const answer of successes) expect(answer.data.orderId).toBe(1);
      for (const answer of conflicts) {
        expect(answer.error?.data.code).toBe('CONFLICT');
        expect(answer.error?.data.idempotency.code).toBe('IN_PROGRESS');
        expect(answer.error?.data.idempotency.retryAfterMs).toBeGreaterThan(0);
        expect(answer.headers.get('retry-after')).toMatch(/^\d+$/);
      }
    } finally {
      await app.close();
    }
  });

  it('with inProgress: { waitMs }, gives all 50 callers the one result', async () => {
    const app = await startTestApp({ store: open.store, inProgress: { waitMs: 10_000 } });
    try {
      const key = newKey();
      const answers = await Promise.all(
        Array.from({ length: 50 }, () =>
          postMutation(
            app.url,
            'orders.create',
            { item: 'book', sleepMs: 200 },
            { 'idempotency-key': key, 'x-user': 'ann' },
          ),
        ),
      );
      expect(app.runsOf('ann', key)).toBe(1);
      expect(answers.map((answer) => answer.status)).toEqual(Array(50).fill(200));
      expect(new Set(answers.map((answer) => answer.data.orderId))).toEqual(new Set([1]));
      expect(answers.filter((answer) => answer.headers.get('idempotent-replayed') === 'true')).toHaveLength(49);
    } finally {
      await app.close();
    }
  });

  it('renews a 300 ms lease while a 1.5 s handler runs, so a concurrent retry gets 409 and no second run', async () => {
    const app = await startTestApp({ store: open.store, leaseMs: 300 });
    try {
      const key = newKey();
      const headers = { 'idempotency-key': key, 'x-user': 'ann' };
      const first = postMutation(app.url, 'orders.create', { item: 'book', sleepMs: 1500 }, headers);
      const retries = [];
      for (const delay of [400, 700, 1000]) {
        await new Promise((resolve) => setTimeout(resolve, delay === 400 ? 400 : 300));
        retries.push(await postMutation(app.url, 'orders.create', { item: 'book', sleepMs: 1500 }, headers));
      }
      for (const retry of retries) expect(retry.error?.data.idempotency.code).toBe('IN_PROGRESS');
      expect((await first).status).toBe(200);
      expect(app.runsOf('ann', key)).toBe(1);
      expect(app.effects.events.filter((event) => event.type === 'leaseLost')).toHaveLength(0);
    } finally {
      await app.close();
    }
  });

  it('refuses a stale holder whose renewals failed: the newer holder, with the larger fence, keeps its outcome', async () => {
    // A fault the real store cannot be made to produce on cue: renewals that fail for the first holder only.
    // They fail for good: the keeper goes on renewing after it told the handler the lease was lost (so that a
    // handler that ignores its signal is not run twice while the store is merely slow), and a renewal that
    // got through would keep the newer caller out.
    let staleToken: string | undefined;
    const flakyStore: IdempotencyStore = {
      claim: (request) => {
        staleToken ??= request.token;
        return open.store.claim(request);
      },
      complete: (request) => open.store.complete(request),
      release: (request) => open.store.release(request),
      renewLease: (request) =>
        request.token === staleToken
          ? Promise.reject(new Error('renewal lost in the network'))
          : open.store.renewLease(request),
    };
    const app = await startTestApp({ store: flakyStore, leaseMs: 300 });
    try {
      const key = newKey();
      const headers = { 'idempotency-key': key, 'x-user': 'ann' };
      const stale = postMutation(app.url, 'orders.create', { item: 'book', sleepMs: 1500 }, headers);
      await new Promise((resolve) => setTimeout(resolve, 700));
      // On a loaded machine the stale claim may have landed late: retry its 409 until the lease is out.
      let newer = await postMutation(app.url, 'orders.create', { item: 'book', sleepMs: 1500 }, headers);
      for (let retry = 0; retry < 30 && newer.error?.data.idempotency.code === 'IN_PROGRESS'; retry++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        newer = await postMutation(app.url, 'orders.create', { item: 'book', sleepMs: 1500 }, headers);
      }
      expect(newer.status).toBe(200);
      const staleAnswer = await stale;
      expect(staleAnswer.status).toBe(200);

      const [staleFence, newerFence] = app.effects.fences.get(key) ?? [];
      expect(app.runsOf('ann', key)).toBe(2);
      expect(newerFence).toBeGreaterThan(staleFence!);
      expect(newer.data.fence).toBe(newerFence);
      const lost = app.effects.events.filter((event) => event.type === 'leaseLost');
      expect(lost.map((event) => event.fence)).toContain(staleFence);

      const replay = await postMutation(app.url, 'orders.create', { item: 'book', sleepMs: 1500 }, headers);
      expect(replay.headers.get('idempotent-replayed')).toBe('true');
      expect(replay.data.orderId).toBe(newer.data.orderId);
      expect(replay.data.fence).toBe(newerFence);
      expect(app.runsOf('ann', key)).toBe(2);
    } finally {
      await app.close();
    }
  });
});
