import { initTRPC } from '@trpc/server';
import { defaultTransformer } from '@trpc/server/unstable-core-do-not-import';
import { createIdempotency, MemoryStore } from '@trpc-idempotency/server';
import superjson from 'superjson';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type Context, postMutation, serve } from '../support/app.js';
import { backends, newKey, type OpenBackend } from '../support/backends.js';

/** superjson, counting how often it serializes an order (an object with `kind: 'order'`). */
function countingSuperjson() {
  const counted = { orders: 0 };
  const transformer = {
    serialize(value: unknown) {
      if ((value as { kind?: unknown } | null)?.kind === 'order') counted.orders++;
      return superjson.serialize(value);
    },
    deserialize: (value: any) => superjson.deserialize(value),
  };
  return { transformer, counted };
}

// A fresh outcome is serialized by the middleware to be stored, and by tRPC for the answer: the SDK leaves
// tRPC's response serializer as the app made it (docs/protocol.md §1c). The first answer equals the replay,
// and what an outer middleware does to the result reaches the answer.
describe.each(backends())('the answer to a fresh call, on $name', (backend) => {
  let open: OpenBackend;
  let app: { url: string; close(): Promise<void> };
  const { transformer, counted } = countingSuperjson();
  let runs = 0;

  beforeAll(async () => {
    open = await backend.create();
    const t = initTRPC.context<Context>().create({ transformer });
    const scope = (ctx: Context) => ctx.user;
    const idempotency = createIdempotency({ store: open.store, scope, serializer: transformer });
    const order = ({ input }: { input: { item: string } }) => ({
      kind: 'order' as const,
      id: ++runs,
      item: input.item,
      at: new Date('2026-05-06T07:08:09.010Z'),
      tags: new Set(['gift']),
    });
    const input = z.object({ item: z.string() });
    const router = t.router({
      direct: t.procedure.use(idempotency).input(input).mutation(order),
      // tRPC's own input validator outside the middleware passes the result through unchanged.
      validatedFirst: t.procedure.input(input).use(idempotency).mutation(order),
      // An app middleware outside that adds to the result in place, after the outcome was stored.
      decoratedOutside: t.procedure
        .use(async ({ next }) => {
          const result = await next();
          if (result.ok) (result.data as { note?: string }).note = 'added outside';
          return result;
        })
        .use(idempotency)
        .input(input)
        .mutation(order),
      ownSerializer: t.procedure
        .use(createIdempotency({ store: open.store, scope, serializer: superjson }))
        .input(input)
        .mutation(order),
    });
    app = await serve(router);
  });
  afterAll(async () => {
    await app.close();
    await open.close();
  });

  const send = (path: string, key: string) =>
    postMutation(app.url, path, { item: 'lamp' }, { 'x-user': 'ann', 'idempotency-key': key });

  it.each(['direct', 'validatedFirst'])(
    '%s: serializes the result to store it and to answer, and the first answer equals the replay',
    async (path) => {
      const key = newKey();
      const before = counted.orders;
      const first = await send(path, key);
      expect(first.status).toBe(200);
      expect(counted.orders - before).toBe(2);
      expect(first.data).toEqual({
        kind: 'order',
        id: expect.any(Number),
        item: 'lamp',
        at: new Date('2026-05-06T07:08:09.010Z'),
        tags: new Set(['gift']),
      });
      const replay = await send(path, key);
      expect(replay.headers.get('idempotent-replayed')).toBe('true');
      expect(replay.data).toEqual(first.data);
    },
  );

  it('answers with what an outer middleware changed in place, as without idempotency', async () => {
    const key = newKey();
    const before = counted.orders;
    const first = await send('decoratedOutside', key);
    expect(first.data.note).toBe('added outside');
    // Once to store (before the outer middleware ran), once by tRPC for the answer.
    expect(counted.orders - before).toBe(2);
    const replay = await send('decoratedOutside', key);
    expect(replay.data).toEqual(first.data);
  });

  it('serializes the answer with the router’s transformer when the outcome is stored with another', async () => {
    const key = newKey();
    const before = counted.orders;
    const first = await send('ownSerializer', key);
    expect(first.status).toBe(200);
    // The serializer option stored it (not counted); the router's transformer answered (counted once).
    expect(counted.orders - before).toBe(1);
    expect(first.data.tags).toEqual(new Set(['gift']));
  });
});

describe('the answer with tRPC’s default transformer', () => {
  it('leaves the router’s config as tRPC made it, and answers as before', async () => {
    const store = new MemoryStore();
    const t = initTRPC.context<Context>().create();
    const router = t.router({
      order: t.procedure
        .use(createIdempotency({ store, scope: (ctx: Context) => ctx.user, serializer: 'json' }))
        .mutation(() => ({ id: 1, tags: ['gift'] })),
    });
    const app = await serve(router);
    try {
      const raw = await fetch(`${app.url}/order`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-user': 'ann', 'idempotency-key': newKey() },
        body: '{}',
      });
      expect(await raw.json()).toEqual({ result: { data: { id: 1, tags: ['gift'] } } });
      expect(t._config.transformer).toBe(defaultTransformer);
    } finally {
      await app.close();
    }
  });
});
