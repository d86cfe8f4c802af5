import type { AddressInfo } from 'node:net';
import { type AnyRouter, initTRPC, TRPCError } from '@trpc/server';
import { createHTTPServer } from '@trpc/server/adapters/standalone';
import type { DataTransformerOptions } from '@trpc/server/unstable-core-do-not-import';
import {
  createIdempotency,
  type DrainOptions,
  type DrainReport,
  type IdempotencyEvent,
  type IdempotencyOptions,
  type IdempotencyStore,
  idempotencyErrorFormatter,
  nodeIdempotencyContext,
} from '@trpc-idempotency/server';
import superjson from 'superjson';
import { z } from 'zod';

/** The context of the test app: the caller comes from an `x-user` header, a gate pass from `x-pass`. */
export function createContext(opts: Parameters<typeof nodeIdempotencyContext>[0]) {
  const user = opts.req.headers['x-user'];
  const pass = opts.req.headers['x-pass'];
  return {
    user: typeof user === 'string' ? user : undefined,
    pass: pass === 'yes',
    ...nodeIdempotencyContext(opts),
  };
}
export type Context = Awaited<ReturnType<typeof createContext>>;

/** What the test app's handlers did, counted apart from the idempotency store. */
export interface SideEffects {
  /** Handler runs per `user/key`. */
  runs: Map<string, number>;
  /** Every order the handler created, in order. */
  orders: Array<{ id: number; user: string | undefined; key: string; fence: number; item: string }>;
  /** Fences the handler saw, per key. */
  fences: Map<string, number[]>;
  /** When (`performance.now()`) each handler run of `orders.create` started, per key. */
  starts: Map<string, number[]>;
  /** When `ctx.idempotency.signal` aborted during a run of `orders.create`, per key. */
  aborts: Map<string, number[]>;
  events: IdempotencyEvent[];
}

/** A value type the app registers with its own transformer, to show that replays keep it. */
export class Money {
  constructor(
    readonly cents: number,
    readonly currency: string,
  ) {}
}

export type TestAppOptions = Omit<IdempotencyOptions<Context>, 'store' | 'scope' | 'serializer' | 'required'> & {
  /** The middleware's serializer. Default: the router's transformer. */
  serializer?: IdempotencyOptions<Context>['serializer'];
  store: IdempotencyStore;
  scope?: IdempotencyOptions<Context>['scope'];
  /** The router's transformer. Default superjson. */
  transformer?: DataTransformerOptions;
};

/** Builds the router of the test app, with its side effects counted in `effects`; `exposed` gets its drain. */
export function buildRouter(
  { transformer = superjson, ...options }: TestAppOptions,
  effects: SideEffects,
  exposed: { drain?: (options?: DrainOptions) => Promise<DrainReport> } = {},
) {
  const t = initTRPC.context<Context>().create({ transformer, errorFormatter: idempotencyErrorFormatter });
  const idempotency = createIdempotency({
    scope: (ctx: Context) => ctx.user,
    ...options,
    serializer: options.serializer ?? transformer,
    onEvent: (event) => {
      effects.events.push(event);
      options.onEvent?.(event);
    },
  });
  exposed.drain = idempotency.drain;
  const optionalIdempotency = createIdempotency({
    scope: (ctx: Context) => ctx.user,
    ...options,
    serializer: options.serializer ?? transformer,
    required: false,
  });
  const { issuedKeys } = options;
  const idempotentProcedure = t.procedure.use(idempotency);
  // A middleware that may refuse before the resolver runs.
  const gate = t.middleware(({ ctx, next }) => {
    if (!ctx.pass) throw new TRPCError({ code: 'FORBIDDEN', message: 'no pass' });
    return next();
  });
  const record = (map: Map<string, number[]>, key: string) =>
    map.set(key, [...(map.get(key) ?? []), performance.now()]);

  const count = (user: string | undefined, key: string) => {
    const id = `${user}/${key}`;
    effects.runs.set(id, (effects.runs.get(id) ?? 0) + 1);
  };

  return t.router({
    // The key-issuing procedure of server-issued keys, when the app was given an issuer.
    idempotencyKey: t.procedure.query(async ({ ctx }) => {
      if (!issuedKeys) throw new TRPCError({ code: 'NOT_FOUND', message: 'this test app issues no keys' });
      return issuedKeys.issue({ ctx });
    }),
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
          const { key, fence, signal } = ctx.idempotency;
          count(ctx.user, key);
          record(effects.starts, key);
          signal.addEventListener('abort', () => record(effects.aborts, key), { once: true });
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
        .input(z.object({ mode: z.enum(['bad_request', 'crash', 'internal']), sleepMs: z.number().optional() }))
        .mutation(async ({ ctx, input }) => {
          count(ctx.user, ctx.idempotency.key);
          effects.fences.set(ctx.idempotency.key, [
            ...(effects.fences.get(ctx.idempotency.key) ?? []),
            ctx.idempotency.fence,
          ]);
          if (input.sleepMs) await new Promise((resolve) => setTimeout(resolve, input.sleepMs));
          if (input.mode === 'bad_request') throw new TRPCError({ code: 'BAD_REQUEST', message: 'card declined' });
          if (input.mode === 'internal') throw new TRPCError({ code: 'INTERNAL_SERVER_ERROR', message: 'db down' });
          throw new Error('unexpected crash');
        }),
      gated: idempotentProcedure
        .use(gate)
        .input(z.object({ item: z.string() }))
        .mutation(({ ctx, input }) => {
          count(ctx.user, ctx.idempotency.key);
          return { item: input.item };
        }),
      // The same gate before the idempotency middleware, where refusals belong (docs/protocol.md §2).
      gatedFirst: t.procedure
        .use(gate)
        .use(idempotency)
        .input(z.object({ item: z.string() }))
        .mutation(({ ctx, input }) => {
          count(ctx.user, ctx.idempotency.key);
          return { item: input.item };
        }),
      // An outcome of any size, for the size limits.
      report: idempotentProcedure.input(z.object({ bytes: z.number().int() })).mutation(({ ctx, input }) => {
        count(ctx.user, ctx.idempotency.key);
        return { text: 'x'.repeat(input.bytes) };
      }),
      quote: idempotentProcedure.input(z.object({ price: z.instanceof(Money) })).mutation(({ ctx, input }) => {
        count(ctx.user, ctx.idempotency.key);
        return { price: new Money(input.price.cents, input.price.currency), quotedBy: ctx.user };
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
  /** `drain()` of the app's idempotency middleware. */
  drain(options?: DrainOptions): Promise<DrainReport>;
  close(): Promise<void>;
}

/** Starts the test app over real HTTP on a free port. */
export async function startTestApp(options: TestAppOptions): Promise<TestApp> {
  const effects: SideEffects = {
    runs: new Map(),
    orders: [],
    fences: new Map(),
    starts: new Map(),
    aborts: new Map(),
    events: [],
  };
  const exposed: { drain?: (options?: DrainOptions) => Promise<DrainReport> } = {};
  const served = await serve(buildRouter(options, effects, exposed));
  return {
    ...served,
    effects,
    runsOf: (user, key) => effects.runs.get(`${user}/${key}`) ?? 0,
    drain: (drainOptions) => exposed.drain!(drainOptions),
  };
}

/** Serves a router of the test app's context over real HTTP on a free port. */
export async function serve(router: AnyRouter): Promise<{ url: string; close(): Promise<void> }> {
  const server = createHTTPServer({ router, createContext });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
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

/** Sends one mutation over plain HTTP, the way httpLink does, with the given headers and the app's transformer. */
export async function postMutation(
  url: string,
  path: string,
  input: unknown,
  headers: Record<string, string> = {},
  transformer: { serialize(value: unknown): unknown; deserialize(value: any): any } = superjson,
): Promise<RawAnswer> {
  const response = await fetch(`${url}/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(transformer.serialize(input)),
  });
  const body = (await response.json()) as { result?: { data: any }; error?: any };
  return {
    status: response.status,
    headers: response.headers,
    data: body.result ? transformer.deserialize(body.result.data) : undefined,
    error: body.error ? (transformer.deserialize(body.error) as RawAnswer['error']) : undefined,
  };
}
