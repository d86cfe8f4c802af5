import { httpLink } from '@trpc/client';
import { createIdempotentClient, idempotencyHeaders } from '@trpc-idempotency/client';
import superjson from 'superjson';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestRouter } from '../support/app.js';
import { type ClientRig, startClientRig } from '../support/clientHarness.js';

describe('batching', () => {
  let rig: ClientRig;
  beforeAll(async () => {
    rig = await startClientRig();
  });
  afterAll(async () => {
    await rig.close();
  });

  it('batches queries made in one tick into one request, without a key', async () => {
    const client = rig.client();
    const before = rig.proxy.requests.length;

    const counts = await Promise.all([
      client.orders.list.query(),
      client.orders.list.query(),
      client.orders.list.query(),
    ]);

    expect(counts).toEqual([0, 0, 0]);
    const seen = rig.proxy.requests.slice(before);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ method: 'GET', batched: true, key: undefined });
    expect(seen[0]!.paths).toEqual(['orders.list', 'orders.list', 'orders.list']);
  });

  it('sends keyed mutations made in one tick unbatched, one request and one key each', async () => {
    const client = rig.client();
    const before = rig.proxy.requests.length;

    const results = await Promise.all([
      client.orders.create.mutate({ item: 'a' }),
      client.orders.create.mutate({ item: 'b' }),
      client.orders.create.mutate({ item: 'c' }),
    ]);

    const seen = rig.proxy.requests.slice(before);
    expect(seen).toHaveLength(3);
    for (const request of seen) {
      expect(request).toMatchObject({ method: 'POST', batched: false, paths: ['orders.create'] });
      expect(request.key).toBeDefined();
    }
    expect(new Set(seen.map((request) => request.key)).size).toBe(3);
    expect(new Set(results.map((result) => result.orderId)).size).toBe(3);
  });

  it('still batches mutations sent with context.idempotency: false', async () => {
    const client = rig.client();
    const before = rig.proxy.requests.length;

    await Promise.all([
      client.optional.create.mutate({ item: 'x' }, { context: { idempotency: false } }),
      client.optional.create.mutate({ item: 'y' }, { context: { idempotency: false } }),
    ]);

    const seen = rig.proxy.requests.slice(before);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ method: 'POST', batched: true, key: undefined });
  });

  it('sends both kinds of request through the fetch and headers it was given', async () => {
    const calls: Array<{ url: string; user: string | undefined; key: string | undefined }> = [];
    const client = createIdempotentClient<TestRouter>({
      url: rig.proxy.url,
      transformer: superjson,
      headers: ({ opList }) => ({ 'x-user': opList.length > 1 ? 'batcher' : 'single' }),
      fetch: (url, init) => {
        const headers = new Headers(init?.headers);
        calls.push({
          url: String(url),
          user: headers.get('x-user') ?? undefined,
          key: headers.get('idempotency-key') ?? undefined,
        });
        return fetch(url, init);
      },
    });

    await Promise.all([client.orders.list.query(), client.orders.list.query()]);
    const order = await client.orders.create.mutate({ item: 'fetched' });

    expect(calls).toHaveLength(2);
    expect(calls[0]).toMatchObject({ user: 'batcher', key: undefined });
    expect(calls[0]!.url).toContain('batch=1');
    expect(calls[1]).toMatchObject({ user: 'single', key: expect.any(String) });
    expect(rig.app.runsOf('single', calls[1]!.key!)).toBe(1);
    expect(order.user).toBe('single');
  });

  it('lets the keyed link be replaced; the replacement sends the key with idempotencyHeaders', async () => {
    const sent: string[] = [];
    const client = createIdempotentClient<TestRouter>({
      url: rig.proxy.url,
      transformer: superjson,
      keyedLink: httpLink({
        url: rig.proxy.url,
        transformer: superjson,
        headers: ({ op }) => {
          sent.push(op.context.idempotencyKey ?? '(none)');
          return { ...idempotencyHeaders(op), 'x-user': 'custom' };
        },
      }),
      idempotency: { attempts: 1 },
    });

    const order = await client.orders.create.mutate({ item: 'custom' });

    expect(order.user).toBe('custom');
    expect(sent).toHaveLength(1);
    expect(rig.proxy.requests.at(-1)!.key).toBe(sent[0]);
    expect(rig.app.runsOf('custom', sent[0]!)).toBe(1);
  });
});
