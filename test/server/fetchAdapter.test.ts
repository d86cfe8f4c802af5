import { initTRPC } from '@trpc/server';
import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import {
  createIdempotency,
  fetchIdempotencyContext,
  idempotencyErrorFormatter,
  MemoryStore,
} from '@trpc-idempotency/server';
import superjson from 'superjson';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { newKey } from '../support/backends.js';

describe('the fetch adapter (Next.js app router, Hono, Workers)', () => {
  const createContext = (opts: Parameters<typeof fetchIdempotencyContext>[0]) => ({
    user: opts.req.headers.get('x-user'),
    ...fetchIdempotencyContext(opts),
  });
  type Context = ReturnType<typeof createContext>;
  const t = initTRPC.context<Context>().create({ transformer: superjson, errorFormatter: idempotencyErrorFormatter });
  let runs = 0;
  const router = t.router({
    pay: t.procedure
      .use(createIdempotency({ store: new MemoryStore(), scope: (ctx: Context) => ctx.user, serializer: superjson }))
      .input(z.object({ cents: z.number() }))
      .mutation(({ input }) => ({ paid: input.cents, run: ++runs })),
  });
  const call = (headers: Record<string, string>) =>
    fetchRequestHandler({
      endpoint: '/trpc',
      router,
      createContext,
      req: new Request('http://localhost/trpc/pay', {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(superjson.serialize({ cents: 500 })),
      }),
    });

  it('reads the key with one line in createContext, replays, and marks the replay in the response headers', async () => {
    const key = newKey();
    const first = await call({ 'idempotency-key': key, 'x-user': 'ann' });
    const second = await call({ 'x-idempotency-key': key, 'x-user': 'ann' });
    expect(first.status).toBe(200);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(await second.json()).toEqual(await first.json());
    expect(runs).toBe(1);

    const missing = await call({ 'x-user': 'ann' });
    expect(missing.status).toBe(400);
    expect(runs).toBe(1);
  });
});
