import { initTRPC } from '@trpc/server';
import type { FetchCreateContextFnOptions } from '@trpc/server/adapters/fetch';
import { createIdempotency, fetchIdempotencyContext, type IdempotencyStore } from '@trpc-idempotency/server';
import superjson from 'superjson';
import { paymentErrorFormatter } from './errorFormatter.js';
import type { Ledger } from './ledger.js';
import { paymentInput } from './paymentInput.js';

/**
 * The request context on a fetch runtime: the customer (no login here: an `x-customer-id` header, or
 * `demo-customer`) and what the idempotency middleware reads, from the fetch `Request` and response headers.
 */
export function createContext(opts: FetchCreateContextFnOptions) {
  return {
    customerId: opts.req.headers.get('x-customer-id') || 'demo-customer',
    ...fetchIdempotencyContext(opts),
  };
}
type Context = ReturnType<typeof createContext>;

/** How long the "card authorization" takes, so that duplicates really overlap with the first request. */
const PROCESSING_MS = 300;

/** Builds the router: `payments.create` runs once per key and customer, `payments.list` shows the ledger. */
export function buildRouter(deps: { store: IdempotencyStore; ledger: Ledger }) {
  // No `isDev` here: tRPC then decides by NODE_ENV, and `npm run start:hono` sets it to production, so error
  // answers carry no stack trace (and no path on the server).
  const t = initTRPC.context<Context>().create({ transformer: superjson, errorFormatter: paymentErrorFormatter });
  const idempotentProcedure = t.procedure.use(
    createIdempotency({ store: deps.store, scope: (ctx: Context) => ctx.customerId, serializer: superjson }),
  );
  return t.router({
    payments: t.router({
      create: idempotentProcedure.input(paymentInput).mutation(async ({ ctx, input }) => {
        const { key, fence, signal } = ctx.idempotency;
        await new Promise((resolve) => setTimeout(resolve, PROCESSING_MS));
        signal.throwIfAborted();
        return deps.ledger.record({ ...input, key, fence });
      }),
      list: t.procedure.query(() => deps.ledger.list()),
    }),
  });
}

/** The router's type, for a typed client. */
export type AppRouter = ReturnType<typeof buildRouter>;
