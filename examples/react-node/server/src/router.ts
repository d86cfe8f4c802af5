import { initTRPC } from '@trpc/server';
import {
  createIdempotency,
  type IdempotencyStore,
  idempotencyErrorFormatter,
  nodeIdempotencyContext,
} from '@trpc-idempotency/server';
import superjson from 'superjson';
import { z } from 'zod';
import { type Chaos, chaosSettingsSchema } from './chaos.js';
import type { Ledger } from './ledger.js';

/**
 * Builds the request context. The example has no login: a real app takes the customer from its session.
 * The idempotency scope is the customer, so two customers never share a key's record.
 */
export function createContext(opts: Parameters<typeof nodeIdempotencyContext>[0]) {
  const customer = opts.req.headers['x-customer-id'];
  return {
    customerId: typeof customer === 'string' && customer ? customer : 'demo-customer',
    ...nodeIdempotencyContext(opts),
  };
}
type Context = ReturnType<typeof createContext>;

/** How long the "card authorization" takes, so that duplicates really overlap with the first request. */
const PROCESSING_MS = 300;

/** The currencies the checkout accepts. */
export const CURRENCIES = ['EUR', 'USD', 'GBP'] as const;

/** What the router needs from the outside world. */
export interface RouterDeps {
  store: IdempotencyStore;
  ledger: Ledger;
  chaos: Chaos;
  backend: 'memory' | 'redis';
  setStoreReachable: ((reachable: boolean) => Promise<void>) | null;
}

/** Builds the example's tRPC router: payments and the chaos panel's switches. */
export function buildAppRouter(deps: RouterDeps) {
  const t = initTRPC.context<Context>().create({ transformer: superjson, errorFormatter: idempotencyErrorFormatter });
  const idempotentProcedure = t.procedure.use(
    createIdempotency({ store: deps.store, scope: (ctx: Context) => ctx.customerId }),
  );

  return t.router({
    payments: t.router({
      create: idempotentProcedure
        .input(
          z.object({
            /** In minor units: 4200 is 42.00. */
            amount: z.number().int().positive().max(100_000_000),
            currency: z.enum(CURRENCIES),
            note: z.string().trim().max(140).default(''),
          }),
        )
        .mutation(async ({ ctx, input }) => {
          const { key, fence, signal } = ctx.idempotency;
          await new Promise((resolve) => setTimeout(resolve, PROCESSING_MS));
          // A holder that lost its lease stops before its side effect; a newer holder does the work.
          signal.throwIfAborted();
          return deps.ledger.record({ ...input, key, fence });
        }),
      list: t.procedure.query(() => deps.ledger.list()),
    }),
    chaos: t.router({
      get: t.procedure.query(() => ({ settings: deps.chaos.settings, backend: deps.backend })),
      set: t.procedure.input(chaosSettingsSchema.partial()).mutation(async ({ input }) => {
        const next = { ...deps.chaos.settings, ...input };
        if (deps.setStoreReachable) await deps.setStoreReachable(!next.storeUnreachable);
        else next.storeUnreachable = false;
        deps.chaos.settings = next;
        return { settings: next, backend: deps.backend };
      }),
    }),
  });
}

/** The type the web app imports to get a typed client. */
export type AppRouter = ReturnType<typeof buildAppRouter>;
