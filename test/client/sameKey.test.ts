import { type IdempotencyResultMeta, isIdempotencyError } from '@trpc-idempotency/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newKey } from '../support/backends.js';
import { type ClientRig, outcomesOf, recordingSchedule, startClientRig } from '../support/clientHarness.js';

const at = new Date(Date.UTC(2026, 4, 1, 9, 30, 0));

describe('two calls in flight with one caller-given key', () => {
  let rig: ClientRig;
  beforeAll(async () => {
    rig = await startClientRig();
  });
  afterAll(async () => {
    await rig.close();
  });

  it('share one attempt sequence when the input is the same: one series of requests, one execution', async () => {
    const { schedule, planned } = recordingSchedule();
    const client = rig.client({ idempotency: { schedule } });
    const key = newKey('double-click');
    const metas: IdempotencyResultMeta[][] = [[], []];
    // The first attempt's response is lost, so the shared sequence needs a second attempt.
    rig.proxy.plan({ kind: 'reset-after-forward' });

    // Equal inputs written differently: key order, and one Date given twice (superjson notes the aliasing).
    const [one, two] = await Promise.all([
      client.orders.create.mutate(
        { item: 'mug', at, sleepMs: 100 },
        {
          context: {
            idempotencyKey: key,
            idempotency: { onResult: (meta: IdempotencyResultMeta) => metas[0]!.push(meta) },
          },
        },
      ),
      client.orders.create.mutate(
        { sleepMs: 100, at: new Date(at), item: 'mug' },
        {
          context: {
            idempotencyKey: key,
            idempotency: { onResult: (meta: IdempotencyResultMeta) => metas[1]!.push(meta) },
          },
        },
      ),
    ]);

    expect(rig.proxy.requests.filter((request) => request.key === key).map((request) => request.fault)).toEqual([
      'reset-after-forward',
      'pass',
    ]);
    expect(planned).toHaveLength(1);
    expect(rig.app.runsOf('ann', key)).toBe(1);
    expect(one).toEqual(two);
    expect(outcomesOf(rig.events, key)).toEqual(['started', 'retrying', 'started', 'succeeded']);
    // Each caller hears of the result once, with the shared sequence's facts.
    const expected = { key, path: 'orders.create', replayed: true, attempts: 2 };
    expect(metas).toEqual([[expected], [expected]]);
  });

  it('do not share when the input differs: the second reaches the server on its own and gets PAYLOAD_MISMATCH', async () => {
    // Real time, shortened: the second call may meet IN_PROGRESS and wait, but never for a whole hint.
    const { schedule } = recordingSchedule({ waitUpToMs: 50 });
    const client = rig.client({ idempotency: { schedule } });
    const key = newKey('changed-cart');

    const [first, second] = await Promise.allSettled([
      client.orders.create.mutate({ item: 'mug', sleepMs: 200 }, { context: { idempotencyKey: key } }),
      client.orders.create.mutate({ item: 'vase' }, { context: { idempotencyKey: key } }),
    ]);

    expect(first).toMatchObject({ status: 'fulfilled', value: { orderId: expect.any(Number) } });
    expect(second.status).toBe('rejected');
    const error = (second as PromiseRejectedResult).reason;
    expect(isIdempotencyError(error, 'PAYLOAD_MISMATCH')).toBe(true);
    expect(rig.app.runsOf('ann', key)).toBe(1);
    // At least one request each; any more were the second call waiting out the first one's lease.
    const sent = rig.proxy.requests.filter((request) => request.key === key);
    expect(sent.length).toBeGreaterThanOrEqual(2);
    const events = rig.events.filter((event) => event.key === key);
    for (const retry of events.filter((event) => event.outcome === 'retrying')) {
      expect(retry.reason).toBe('in_progress');
    }
    expect(events.filter((event) => event.outcome === 'failed')).toMatchObject([{ reason: 'payload_mismatch' }]);
  });

  it('do not share on two paths: each path has its own record at the server', async () => {
    const client = rig.client();
    const key = newKey('two-paths');

    const [order, note] = await Promise.all([
      client.orders.create.mutate({ item: 'pen' }, { context: { idempotencyKey: key } }),
      client.optional.create.mutate({ item: 'pen' }, { context: { idempotencyKey: key } }),
    ]);

    expect(order.orderId).toBeGreaterThan(0);
    expect(note).toEqual({ item: 'pen', keyed: true });
    const paths = rig.proxy.requests.filter((request) => request.key === key).map((request) => request.paths[0]);
    expect(paths.sort()).toEqual(['optional.create', 'orders.create']);
  });

  it('with dedupe: false, send a sequence each; the server still runs the handler once', async () => {
    const { schedule } = recordingSchedule({ waitUpToMs: 50 });
    const client = rig.client({ idempotency: { schedule, dedupe: false } });
    const key = newKey('no-dedupe');
    const input = { item: 'lamp', sleepMs: 100 };

    const [one, two] = await Promise.all([
      client.orders.create.mutate(input, { context: { idempotencyKey: key } }),
      client.orders.create.mutate(input, { context: { idempotencyKey: key } }),
    ]);

    expect(one.orderId).toBe(two.orderId);
    expect(rig.app.runsOf('ann', key)).toBe(1);
    expect(rig.proxy.requests.filter((request) => request.key === key).length).toBeGreaterThanOrEqual(2);
  });
});
