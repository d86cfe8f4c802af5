import { deriveIdempotencyKey } from '@trpc-idempotency/client';
import superjson from 'superjson';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClientRig, recordingSchedule, startClientRig } from '../support/clientHarness.js';

const at = new Date(Date.UTC(2026, 10, 22, 6, 0, 0));
const derive = (user: string, input: unknown, path = 'orders.create') =>
  deriveIdempotencyKey({ user, path, serializedInput: superjson.serialize(input) });

describe("key: 'derive'", () => {
  let rig: ClientRig;
  beforeAll(async () => {
    rig = await startClientRig();
  });
  afterAll(async () => {
    await rig.close();
  });

  it('gives the same key for the same user and input, whatever the key order, with Dates inside', async () => {
    // `at` appears twice in `one` (superjson notes the aliasing) and as two equal Dates in `two`.
    const one = await derive('ann', { item: 'book', qty: 2, at, nested: { b: [1, { y: 2, x: 1 }], a: at } });
    const two = await derive('ann', {
      nested: { a: new Date(at), b: [1, { x: 1, y: 2 }] },
      at: new Date(at),
      qty: 2,
      item: 'book',
    });
    expect(one).toBe(two);
    expect(one).toMatch(/^[0-9a-f]{64}$/);
    expect(await derive('bob', { item: 'book', qty: 2, at, nested: { b: [1, { y: 2, x: 1 }], a: at } })).not.toBe(one);
    expect(await derive('ann', { item: 'book', qty: 3, at })).not.toBe(
      await derive('ann', { item: 'book', qty: 2, at }),
    );
    expect(await derive('ann', { item: 'book' }, 'orders.other')).not.toBe(await derive('ann', { item: 'book' }));
    // A Date and its ISO string are different inputs once serialized by superjson.
    expect(await derive('ann', { at })).not.toBe(await derive('ann', { at: at.toISOString() }));
  });

  it('is hex SHA-256 over the canonical JSON of [user, path, serialized input]', async () => {
    const { createHash } = await import('node:crypto');
    const input = { qty: 1, item: 'pen' };
    const expected = createHash('sha256')
      .update('["ann","orders.create",{"json":{"item":"pen","qty":1}}]')
      .digest('hex');
    expect(await derive('ann', input)).toBe(expected);
  });

  it('sends the derived key, so the server sees it, and a different user derives a different one', async () => {
    const ann = rig.client({ user: 'ann', idempotency: { key: 'derive', user: 'ann' } });
    const bob = rig.client({ user: 'bob', idempotency: { key: 'derive', user: () => 'bob' } });
    const input = { item: 'lamp', at };

    const first = await ann.orders.create.mutate({ at: new Date(at), item: 'lamp' });
    const again = await ann.orders.create.mutate(input);
    const bobs = await bob.orders.create.mutate(input);

    const annKey = await derive('ann', input);
    const bobKey = await derive('bob', input);
    expect(rig.proxy.requests.slice(-3).map((request) => request.key)).toEqual([annKey, annKey, bobKey]);
    expect(again.orderId).toBe(first.orderId);
    expect(again.at).toEqual(at);
    expect(bobs.orderId).not.toBe(first.orderId);
    expect(rig.app.runsOf('ann', annKey)).toBe(1);
    expect(rig.app.runsOf('bob', bobKey)).toBe(1);
  });

  it('two identical calls in flight together share one attempt sequence: one execution, one series of requests', async () => {
    const { schedule, planned } = recordingSchedule();
    const client = rig.client({ user: 'cat', idempotency: { key: 'derive', user: 'cat', schedule } });
    const input = { item: 'mug', sleepMs: 100 };
    const before = rig.proxy.requests.length;
    // The first attempt's response is lost, so the shared sequence needs a second attempt.
    rig.proxy.plan({ kind: 'reset-after-forward' });

    const [one, two] = await Promise.all([
      client.orders.create.mutate(input),
      client.orders.create.mutate({ sleepMs: 100, item: 'mug' }),
    ]);

    const key = await derive('cat', input);
    expect(rig.proxy.requests.slice(before).map((request) => [request.key, request.fault])).toEqual([
      [key, 'reset-after-forward'],
      [key, 'pass'],
    ]);
    expect(planned).toHaveLength(1);
    expect(rig.app.runsOf('cat', key)).toBe(1);
    expect(one).toEqual(two);
    expect(rig.events.filter((event) => event.key === key).map((event) => event.outcome)).toEqual([
      'started',
      'retrying',
      'started',
      'succeeded',
    ]);
  });

  it('a caller that aborts leaves the shared sequence without stopping it for the other caller', async () => {
    const client = rig.client({ user: 'dan', idempotency: { key: 'derive', user: 'dan' } });
    const input = { item: 'rug', sleepMs: 150 };
    const controller = new AbortController();
    const before = rig.proxy.requests.length;
    // Both carry the key that derivation gives, known before they start, so that both have joined the sequence
    // when the first one aborts. A derivation (WebCrypto, on the thread pool) still running at that moment would
    // leave the sequence with no caller: it is then abandoned, and the second caller starts again (as it should).
    const context = { idempotencyKey: await derive('dan', input) };

    const leaving = client.orders.create.mutate(input, { signal: controller.signal, context });
    const staying = client.orders.create.mutate(input, { context });
    await rig.proxy.waitForRequests(before + 1);
    controller.abort();

    await expect(leaving).rejects.toMatchObject({ cause: { name: 'AbortError' } });
    const result = await staying;
    expect(result.orderId).toBeGreaterThan(0);
    expect(rig.proxy.requests.length - before).toBe(1);
  });

  it('rejects derive without a user at construction, naming the option', () => {
    expect(() => rig.client({ idempotency: { key: 'derive' } })).toThrow(/option "user" is required/);
  });
});
