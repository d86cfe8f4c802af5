import type { AddressInfo } from 'node:net';
import { initTRPC, TRPCError } from '@trpc/server';
import { createHTTPServer } from '@trpc/server/adapters/standalone';
import {
  createIdempotency,
  type IdempotencyEvent,
  type IdempotencyOptions,
  type IdempotencyStore,
  idempotencyErrorFormatter,
  nodeIdempotencyContext,
} from '@trpc-idempotency/server';
import superjson from 'superjson';
import { z } from 'zod';

/** The context of the test app: the caller comes from an `x-user` header. */
function createContext(opts: Parameters<typeof nodeIdempotencyContext>[0]) {
  const user = opts.req.headers['x-user'];
  return { user: typeof user === 'string' ? user : undefined, ...nodeIdempotencyContext(opts) };
}
type Context = Awaited<ReturnType<typeof createContext>>;

/** What the test app's handlers did, counted apart from the idempotency store. */
export interface SideEffects {
  /** Handler runs per `user/key`. */
  runs: Map<string, number>;
  /** Every order the handler created, in order. */
  orders: Array<{ id: number; user: string | undefined; key: string; fence: number; item: string }>;
  /** Fences the handler saw, per key. */
  fences: Map<string, number[]>;
  events: IdempotencyEvent[];
}

export type TestAppOptions = Omit<IdempotencyOptions<Context>, 'store' | 'scope' | 'required'> & {
  store: IdempotencyStore;
  scope?: IdempotencyOptions<Context>['scope'];
};

/** Builds the router of the test app, with its side effects counted in `effects`. */
export function buildRouter(options: TestAppOptions, effects: SideEffects) {
  const t = initTRPC.context<Context>().create({ transformer: superjson, errorFormatter: idempotencyErrorFormatter });
  const idempotency = createIdempotency({
    scope: (ctx: Context) => ctx.user,
    ...options,
    onEvent: (event) => {
      effects.events.push(event);
      options.onEvent?.(event);
    },
  });
  const optionalIdempotency = createIdempotency({ scope: (ctx: Context) => ctx.user, ...options, required: false });
  const idempotentProcedure = t.procedure.use(idempotency);

  const count = (user: string | undefined, key: string) => {
    const id = `${user}/${key}`;
    effects.runs.set(id, (effects.runs.get(id) ?? 0) + 1);
  };

  return t.router({
    orders: t.router({
      create: idempotentProcedure
        .input(
          z.object({
            item: z.string(),
            qty: z.number().int().default(1),
            sleepMs: z.number().optional(),
            at: z.date().optional(),
          }),
        )
        .mutation(async ({ ctx, input }) => {
          const { key, fence } = ctx.idempotency;
          count(ctx.user, key);
          effects.fences.set(key, [...(effects.fences.get(key) ?? []), fence]);
          if (input.sleepMs) await new Promise((resolve) => setTimeout(resolve, input.sleepMs));
          const order = { id: effects.orders.length + 1, user: ctx.user, key, fence, item: input.item };
          effects.orders.push(order);
          return {
            orderId: order.id,
            user: ctx.user,
            fence,
            createdAt: new Date(Date.UTC(2026, 0, 2, 3, 4, 5)),
            tags: new Map([['item', input.item]]),
            totalCents: BigInt(input.qty) * 1999n,
            at: input.at,
          };
        }),
      fail: idempotentProcedure
        .input(z.object({ mode: z.enum(['bad_request', 'crash', 'internal']) }))
        .mutation(({ ctx, input }) => {
          count(ctx.user, ctx.idempotency.key);
          if (input.mode === 'bad_request') throw new TRPCError({ code: 'BAD_REQUEST', message: 'card declined' });
          if (input.mode === 'internal') throw new TRPCError({ code: 'INTERNAL_SERVER_ERROR', message: 'db down' });
          throw new Error('unexpected crash');
        }),
      list: idempotentProcedure.query(() => effects.orders.length),
    }),
    optional: t.router({
      create: t.procedure
        .use(optionalIdempotency)
        .input(z.object({ item: z.string() }))
        .mutation(({ ctx, input }) => {
          count(ctx.user, ctx.idempotency?.key ?? '(none)');
          return { item: input.item, keyed: ctx.idempotency !== null };
        }),
    }),
  });
}

export type TestRouter = ReturnType<typeof buildRouter>;

/** A running test server and what its handlers did. */
export interface TestApp {
  url: string;
  effects: SideEffects;
  /** How many times the handler ran for this user and key. */
  runsOf(user: string | undefined, key: string): number;
  close(): Promise<void>;
}

/** Starts the test app over real HTTP on a free port. */
export async function startTestApp(options: TestAppOptions): Promise<TestApp> {
  const effects: SideEffects = { runs: new Map(), orders: [], fences: new Map(), events: [] };
  const server = createHTTPServer({ router: buildRouter(options, effects), createContext });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    effects,
    runsOf: (user, key) => effects.runs.get(`${user}/${key}`) ?? 0,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

/** A raw answer from the tRPC HTTP API, deserialized with superjson. */
export interface RawAnswer {
  status: number;
  headers: Headers;
  data?: any;
  error?: { message: string; code: number; data: { code: string; httpStatus: number; idempotency: any } };
}

/** Sends one mutation over plain HTTP, the way httpLink does, with the given headers. */
export async function postMutation(
  url: string,
  path: string,
  input: unknown,
  headers: Record<string, string> = {},
): Promise<RawAnswer> {
  const response = await fetch(`${url}/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(superjson.serialize(input)),
  });
  const body = (await response.json()) as { result?: { data: any }; error?: any };
  return {
    status: response.status,
    headers: response.headers,
    data: body.result ? superjson.deserialize(body.result.data) : undefined,
    error: body.error ? (superjson.deserialize(body.error) as RawAnswer['error']) : undefined,
  };
}
