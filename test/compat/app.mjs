// The app the compat suite runs against, written as a user of the published packages writes it (README
// "Server quickstart"): a tRPC standalone HTTP server, the router's own superjson instance as transformer and as
// the middleware's serializer, MemoryStore, errors through idempotencyErrorFormatter. Handler runs are counted
// per key: that count is what every case asserts.
import { initTRPC } from '@trpc/server';
import { createHTTPServer } from '@trpc/server/adapters/standalone';
import {
  createIdempotency,
  idempotencyErrorFormatter,
  MemoryStore,
  nodeIdempotencyContext,
} from '@trpc-idempotency/server';
import { SuperJSON } from 'superjson';
import { z } from 'zod';

/** A value type only this app's superjson knows (registerCustom), to show that a replay keeps it. */
export class Money {
  constructor(cents, currency) {
    this.cents = cents;
    this.currency = currency;
  }
}

/** The app's own superjson instance, shared by the server and its clients. */
export const transformer = new SuperJSON();
transformer.registerCustom(
  {
    isApplicable: (value) => value instanceof Money,
    serialize: (money) => `${money.cents} ${money.currency}`,
    deserialize: (text) => {
      const [cents, currency] = text.split(' ');
      return new Money(Number(cents), currency);
    },
  },
  'compat.Money',
);

const createContext = (opts) => {
  const user = opts.req.headers['x-user'];
  return { user: typeof user === 'string' ? user : undefined, ...nodeIdempotencyContext(opts) };
};

/** Starts the app on a free port; resolves with its URL, the handler runs per key, and close(). */
export async function startApp() {
  const runs = new Map();
  const count = (key) => runs.set(key, (runs.get(key) ?? 0) + 1);
  let orders = 0;

  const t = initTRPC.context().create({ transformer, errorFormatter: idempotencyErrorFormatter });
  const store = new MemoryStore();
  const scope = (ctx) => ctx.user;
  const idempotency = createIdempotency({ store, scope, serializer: transformer });
  // The same store with duplicates waiting for the first outcome instead of a 409.
  const waiting = createIdempotency({ store, scope, serializer: transformer, inProgress: { waitMs: 5000 } });

  const orderInput = z.object({
    item: z.string().min(1),
    qty: z.number().int().positive(),
    price: z.instanceof(Money).optional(),
    sleepMs: z.number().int().max(1000).optional(),
  });
  const handler = async ({ ctx, input }) => {
    count(ctx.idempotency.key);
    if (input.sleepMs) await new Promise((resolve) => setTimeout(resolve, input.sleepMs));
    orders += 1;
    return {
      orderId: orders,
      item: input.item,
      qty: input.qty,
      total: input.price ? new Money(input.price.cents * input.qty, input.price.currency) : undefined,
      createdAt: new Date(Date.UTC(2026, 0, 2, 3, 4, 5)),
      tags: new Map([['item', input.item]]),
      big: 2n ** 70n,
    };
  };

  const router = t.router({
    orders: t.router({
      create: t.procedure.use(idempotency).input(orderInput).mutation(handler),
      createWaiting: t.procedure.use(waiting).input(orderInput).mutation(handler),
    }),
  });

  const server = createHTTPServer({ router, createContext });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    runsOf: (key) => runs.get(key) ?? 0,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
