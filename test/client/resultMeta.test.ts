import { type IdempotencyResultMeta, mutateWithMeta } from '@trpc-idempotency/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newKey } from '../support/backends.js';
import { type ClientRig, recordingSchedule, startClientRig } from '../support/clientHarness.js';

describe('the caller sees that an answer was replayed', () => {
  let rig: ClientRig;
  beforeAll(async () => {
    rig = await startClientRig();
  });
  afterAll(async () => {
    await rig.close();
  });

  it('mutateWithMeta: a fresh call is not replayed; a retried lost response and a second call with the key are', async () => {
    const { schedule } = recordingSchedule();
    const client = rig.client({ idempotency: { schedule } });
    const key = newKey('meta');

    const fresh = await mutateWithMeta(client.orders.create, { item: 'globe' });
    expect(fresh).toMatchObject({ replayed: false, attempts: 1, path: 'orders.create' });
    expect(fresh.key).toBe(rig.proxy.requests.at(-1)!.key);
    expect(fresh.data.createdAt).toBeInstanceOf(Date);

    rig.proxy.plan({ kind: 'reset-after-forward' });
    const retried = await mutateWithMeta(client.orders.create, { item: 'globe', qty: 2 }, { idempotencyKey: key });
    expect(retried).toMatchObject({ key, replayed: true, attempts: 2 });

    const again = await mutateWithMeta(client.orders.create, { item: 'globe', qty: 2 }, { idempotencyKey: key });
    expect(again).toMatchObject({ key, replayed: true, attempts: 1 });
    expect(again.data).toEqual(retried.data);
    expect(again.data.totalCents).toBe(3998n);
    expect(rig.app.runsOf('ann', key)).toBe(1);
    expect(rig.proxy.requests.filter((request) => request.key === key)).toHaveLength(3);
  });

  it('mutateWithMeta passes its retry settings and signal to the call', async () => {
    const client = rig.client();
    const before = rig.proxy.requests.length;

    const bad = await mutateWithMeta(client.orders.create, { item: 'x' }, { attempts: 0 }).catch((error) => error);
    expect(bad).toMatchObject({ name: 'TRPCClientError', cause: expect.any(TypeError) });
    expect((bad as Error).message).toContain('"attempts"');

    const aborted = await mutateWithMeta(client.orders.create, { item: 'x' }, { signal: AbortSignal.abort() }).catch(
      (error) => error,
    );
    expect(aborted).toMatchObject({ name: 'TRPCClientError', cause: { name: 'AbortError' } });
    expect(rig.proxy.requests.length).toBe(before);
  });

  it('mutateWithMeta rejects, naming the cause, when the mutation did not go through the idempotency link', async () => {
    const client = rig.client({ idempotency: { filter: (op) => op.path !== 'optional.create' } });

    const error = await mutateWithMeta(client.optional.create, { item: 'memo' }).catch((caught: unknown) => caught);

    expect(error).toMatchObject({ name: 'TRPCClientError', cause: expect.any(TypeError) });
    expect((error as Error).message).toContain('idempotencyLink');
  });

  it('context.idempotency.onResult is called once per successful call, and a throwing hook changes nothing', async () => {
    const client = rig.client();
    const seen: IdempotencyResultMeta[] = [];
    const key = newKey('hook');

    const order = await client.orders.create.mutate(
      { item: 'atlas' },
      { context: { idempotencyKey: key, idempotency: { onResult: (meta: IdempotencyResultMeta) => seen.push(meta) } } },
    );
    await client.orders.create.mutate(
      { item: 'atlas' },
      {
        context: {
          idempotencyKey: key,
          idempotency: {
            onResult: (meta: IdempotencyResultMeta) => {
              seen.push(meta);
              throw new Error('analytics is down');
            },
          },
        },
      },
    );

    expect(order.orderId).toBeGreaterThan(0);
    expect(seen).toEqual([
      { key, path: 'orders.create', replayed: false, attempts: 1 },
      { key, path: 'orders.create', replayed: true, attempts: 1 },
    ]);
  });

  it('onResult is not called for a call that fails, and a bad onResult is refused before sending', async () => {
    const client = rig.client({ idempotency: { attempts: 1 } });
    const seen: IdempotencyResultMeta[] = [];
    const before = rig.proxy.requests.length;

    await client.orders.fail
      .mutate(
        { mode: 'bad_request' },
        { context: { idempotency: { onResult: (meta: IdempotencyResultMeta) => seen.push(meta) } } },
      )
      .catch(() => {});
    const error = await client.orders.create
      .mutate({ item: 'x' }, { context: { idempotency: { onResult: 'log' } } })
      .catch((caught: unknown) => caught);

    expect(seen).toEqual([]);
    expect(error).toMatchObject({ name: 'TRPCClientError', cause: expect.any(TypeError) });
    expect((error as Error).message).toContain('"onResult"');
    expect(rig.proxy.requests.length - before).toBe(1);
  });
});
