import { initTRPC, TRPCError } from '@trpc/server';
import {
  createIdempotency,
  idempotencyErrorFormatter,
  nodeIdempotencyContext,
  type TransactionalStore,
} from '@trpc-idempotency/server';
import superjson from 'superjson';
import { ZodError, z } from 'zod';
import type { BackendHealth, Payments } from './backends.js';
import { type Chaos, chaosSettingsSchema } from './chaos.js';
import { StaleFenceError, type TransactionalLedger } from './ledger.js';
import { LateWriteError } from './sqliteLedger.js';

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

/** createIdempotency's default lease, for the status answer when the router does not set one. */
const DEFAULT_LEASE_MS = 30_000;

/** The currencies the checkout accepts. */
export const CURRENCIES = ['EUR', 'USD', 'GBP'] as const;

/** The largest single payment, in minor units: 10,000.00. */
export const MAX_PAYMENT = 1_000_000;

/** What `payments.create` takes. The messages are written for the shopper: the page shows them under the field. */
export const paymentInput = z.object({
  /** In minor units: 4200 is 42.00. */
  amount: z
    .number({ error: 'Enter an amount.' })
    .int({ error: 'Use at most two decimals.' })
    .positive({ error: 'The amount must be more than zero.' })
    .max(MAX_PAYMENT, { error: 'A single payment can be at most 10,000.00.' }),
  currency: z.enum(CURRENCIES, { error: `Choose one of ${CURRENCIES.join(', ')}.` }),
  note: z.string().trim().max(140, { error: 'Keep the note to 140 characters.' }).default(''),
});

/** What the router needs from the outside world. */
export interface RouterDeps {
  /** The idempotency store and the ledger; how a payment is written depends on their kind. */
  payments: Payments;
  health: () => BackendHealth;
  setStoreReachable: ((reachable: boolean) => Promise<void>) | null;
  /** The demo's fault switches. Null outside the demo: the chaos endpoints then answer 404. */
  chaos: Chaos | null;
  /** The idempotency lease; the demo shortens it so that "pause the handler past its lease" is quick to see. */
  leaseMs?: number;
}

/** A ledger that cannot be reached answers 503 with a plain message, not a 500 with the driver's words. */
async function fromLedger<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (cause) {
    if (cause instanceof StaleFenceError || cause instanceof LateWriteError) {
      throw new TRPCError({ code: 'CONFLICT', message: cause.message, cause });
    }
    throw new TRPCError({ code: 'SERVICE_UNAVAILABLE', message: 'The ledger cannot be reached right now.', cause });
  }
}

/** Builds the example's tRPC router: payments, the server's status and the chaos panel's switches. */
export function buildAppRouter(deps: RouterDeps) {
  const t = initTRPC.context<Context>().create({
    transformer: superjson,
    // idempotency: tells the SDK's own answers apart. zodError: the input's problems by field, so the page
    // can put each message under its field; the message itself says them in words (zod's is JSON).
    errorFormatter: (opts) => {
      const shape = idempotencyErrorFormatter(opts);
      const { cause } = opts.error;
      if (opts.error.code !== 'BAD_REQUEST' || !(cause instanceof ZodError)) {
        return { ...shape, data: { ...shape.data, zodError: null } };
      }
      const problems = cause.issues.map((issue) => `${issue.path.join('.') || 'input'}: ${issue.message}`);
      return {
        ...shape,
        message: `The input was not accepted. ${problems.join(' ')}`,
        data: { ...shape.data, zodError: z.flattenError(cause) },
      };
    },
  });
  const { payments } = deps;
  const scope = (ctx: Context) => ctx.customerId;
  const lease = deps.leaseMs ? { leaseMs: deps.leaseMs } : {};
  const { chaos } = deps;
  const demoProcedure = t.procedure.use(({ next }) => {
    if (!chaos) throw new TRPCError({ code: 'NOT_FOUND', message: 'The chaos panel is part of the demo (npm start).' });
    return next({ ctx: { chaos } });
  });

  /**
   * PostgreSQL and SQLite: the payment row and the key's outcome commit in one transaction. A holder that
   * lost its lease cannot commit, so its write is rolled back: no fence check to write.
   */
  const transactionalCreate = <TClient>(deps: {
    store: TransactionalStore<TClient>;
    ledger: TransactionalLedger<TClient>;
  }) =>
    t.procedure
      .use(createIdempotency({ store: deps.store, scope, serializer: superjson, transaction: true, ...lease }))
      .input(paymentInput)
      .mutation(async ({ ctx, input }) => {
        const { key, fence, signal, tx } = ctx.idempotency;
        await new Promise((resolve) => setTimeout(resolve, PROCESSING_MS));
        signal.throwIfAborted();
        return fromLedger(() => deps.ledger.recordIn(tx as TClient, { ...input, key, fence }));
      });

  return t.router({
    payments: t.router({
      create:
        payments.kind === 'postgres'
          ? transactionalCreate(payments)
          : payments.kind === 'sqlite'
            ? transactionalCreate(payments)
            : t.procedure
                .use(createIdempotency({ store: payments.store, scope, serializer: superjson, ...lease }))
                .input(paymentInput)
                .mutation(async ({ ctx, input }) => {
                  const { key, fence, signal } = ctx.idempotency;
                  await new Promise((resolve) => setTimeout(resolve, PROCESSING_MS));
                  // A holder that lost its lease stops before its side effect; a newer holder does the work.
                  signal.throwIfAborted();
                  // The fence goes with the write: the ledger refuses it if a newer holder of this intent wrote first.
                  return fromLedger(() => payments.ledger.record({ ...input, key, fence }));
                }),
      list: t.procedure.query(() => fromLedger(() => payments.ledger.list())),
      refusedWrites: t.procedure.query(() => fromLedger(() => payments.ledger.refusals())),
    }),
    /** What the page's store badge shows. Answers from memory, so it works while the store is down. */
    status: t.procedure.query(() => ({
      backend: payments.kind,
      demo: chaos !== null,
      leaseMs: deps.leaseMs ?? DEFAULT_LEASE_MS,
      ...deps.health(),
    })),
    chaos: t.router({
      get: demoProcedure.query(({ ctx }) => ({
        settings: ctx.chaos.settings,
        backend: payments.kind,
        canCutStore: deps.setStoreReachable !== null,
      })),
      set: demoProcedure.input(chaosSettingsSchema.partial()).mutation(async ({ ctx, input }) => {
        const next = { ...ctx.chaos.settings, ...input };
        if (deps.setStoreReachable) await deps.setStoreReachable(!next.storeUnreachable);
        else next.storeUnreachable = false;
        ctx.chaos.settings = next;
        return { settings: next, backend: payments.kind, canCutStore: deps.setStoreReachable !== null };
      }),
    }),
  });
}

/** The type the web app imports to get a typed client. */
export type AppRouter = ReturnType<typeof buildAppRouter>;
