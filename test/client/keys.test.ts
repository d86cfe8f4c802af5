import { createIntent } from '@trpc-idempotency/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClientRig, recordingSchedule, startClientRig } from '../support/clientHarness.js';
import { trpcErrorBody } from '../support/faultProxy.js';

describe('one key per intent, seen at the server', () => {
  let rig: ClientRig;
  beforeAll(async () => {
    rig = await startClientRig();
  });
  afterAll(async () => {
    await rig.close();
  });

  it('sends the same key on every attempt of one intent and a different key for another intent', async () => {
    const { schedule } = recordingSchedule();
    const client = rig.client({ idempotency: { schedule } });
    const unavailable = { kind: 'answer', status: 503, body: trpcErrorBody(503, 'SERVICE_UNAVAILABLE') } as const;
    rig.proxy.plan(unavailable, { kind: 'reset-after-forward' }, { kind: 'pass' }, unavailable);
    const before = rig.proxy.requests.length;

    const first = await client.orders.create.mutate({ item: 'pen' });
    const second = await client.orders.create.mutate({ item: 'pen' });

    const seen = rig.proxy.requests.slice(before);
    expect(seen.map((request) => request.fault)).toEqual(['answer', 'reset-after-forward', 'pass', 'answer', 'pass']);
    const [a, b] = [seen[0]!.key!, seen[3]!.key!];
    expect(seen.map((request) => request.key)).toEqual([a, a, a, b, b]);
    expect(a).not.toBe(b);
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    // The server's own log: one claim per intent, the lost response's retry was a replay.
    const serverKeys = rig.app.effects.events.filter((event) => event.key === a || event.key === b);
    expect(serverKeys.map((event) => [event.key, event.type])).toEqual([
      [a, 'claimed'],
      [a, 'completed'],
      [a, 'replayed'],
      [b, 'claimed'],
      [b, 'completed'],
    ]);
    expect(first.orderId).not.toBe(second.orderId);
    expect(rig.app.runsOf('ann', a)).toBe(1);
    expect(rig.app.runsOf('ann', b)).toBe(1);
  });

  it('an intent keeps its key across a double click and rotates after success', async () => {
    const client = rig.client();
    const checkout = createIntent();
    const submit = () =>
      checkout.run((key) => client.orders.create.mutate({ item: 'cart' }, { context: { idempotencyKey: key } }));
    const firstKey = checkout.key;

    const [one, two] = await Promise.all([submit(), submit()]);

    expect(one.orderId).toBe(two.orderId);
    expect(rig.app.runsOf('ann', firstKey)).toBe(1);
    expect(checkout.key).not.toBe(firstKey);
    const third = await submit();
    expect(third.orderId).not.toBe(one.orderId);
  });

  it('a mutation with context.idempotency: false goes unkeyed; without it the same mutation is keyed', async () => {
    const client = rig.client();
    const optional = await client.optional.create.mutate({ item: 'note' }, { context: { idempotency: false } });
    expect(optional).toEqual({ item: 'note', keyed: false });
    const keyed = await client.optional.create.mutate({ item: 'note' });
    expect(keyed).toEqual({ item: 'note', keyed: true });
  });

  it('a filter narrows which mutations get a key; the others are sent unkeyed and batched', async () => {
    const client = rig.client({ idempotency: { filter: (op) => op.path !== 'optional.create' } });
    const before = rig.proxy.requests.length;

    const [unkeyed, order] = await Promise.all([
      client.optional.create.mutate({ item: 'memo' }),
      client.orders.create.mutate({ item: 'memo' }),
    ]);

    expect(unkeyed).toEqual({ item: 'memo', keyed: false });
    expect(order.orderId).toBeGreaterThan(0);
    const seen = rig.proxy.requests.slice(before);
    expect(seen.find((request) => request.paths.includes('optional.create'))).toMatchObject({ key: undefined });
    expect(seen.find((request) => request.paths.includes('orders.create'))!.key).toBeDefined();
  });

  it('an onAttempt hook that throws never changes the outcome', async () => {
    const client = rig.client({
      idempotency: {
        onAttempt: () => {
          throw new Error('logging is down');
        },
      },
    });
    await expect(client.orders.create.mutate({ item: 'robust' })).resolves.toMatchObject({ fence: 1 });
  });
});
