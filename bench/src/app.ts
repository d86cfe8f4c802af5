import { initTRPC } from '@trpc/server';
import type { PostgresStore } from '@trpc-idempotency/postgres';
import {
  createIdempotency,
  type IdempotencyStore,
  idempotencyErrorFormatter,
  nodeIdempotencyContext,
} from '@trpc-idempotency/server';
import type pg from 'pg';
import superjson from 'superjson';
import { z } from 'zod';

/** The context of the benchmark app: the caller comes from an `x-user` header, as in a real app's auth. */
export function createContext(opts: Parameters<typeof nodeIdempotencyContext>[0]) {
  const user = opts.req.headers['x-user'];
  return { user: typeof user === 'string' ? user : undefined, ...nodeIdempotencyContext(opts) };
}
type Context = Awaited<ReturnType<typeof createContext>>;

/** What the handlers did, so the runner can check that each fresh key ran once and each replay ran none. */
export interface HandlerCounters {
  runs: number;
  /** Resolves the handlers of the conflict scenario that wait on it; replaced after each opening. */
  gate: { promise: Promise<void>; open: () => void; waiting: number };
}

function newGate(): HandlerCounters['gate'] {
  let open = () => {};
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open, waiting: 0 };
}

/** Creates the counters with a closed gate. */
export function newCounters(): HandlerCounters {
  return { runs: 0, gate: newGate() };
}

/** Opens the gate that the conflict scenario's holder waits on, and closes a fresh one behind it. */
export function openGate(counters: HandlerCounters): void {
  const gate = counters.gate;
  counters.gate = newGate();
  gate.open();
}

/** The one input every scenario sends. */
export const orderInput = z.object({ item: z.string(), qty: z.number().int(), note: z.string() });

/**
 * The stores and I/O behind the procedures. A process that serves only some procedures (serverFleet.ts)
 * passes only what those need; a procedure whose store or I/O is absent is left out of the router.
 */
export interface BenchStores {
  memory?: IdempotencyStore;
  redis?: IdempotencyStore;
  /** The same Redis through a RedisStore with `coalesceWrites: false`: one write() per command. */
  redisUncoalesced?: IdempotencyStore;
  /** The same Redis through node-redis, by the bench-only shim of nodeRedisShim.ts (an experiment). */
  redisNodeRedis?: IdempotencyStore;
  cluster?: IdempotencyStore;
  /** A PostgresStore and its pool, whose handlers write their order row to `ordersTable`. */
  postgres?: { store: PostgresStore; pool: pg.Pool; ordersTable: string };
  /** The I/O the handler of the `*Io` procedures waits on (one echo round trip, ioEcho.ts). */
  io?: () => Promise<void>;
  /** The round trip the `plainHop` handler awaits: one claim-sized script call to the same Redis. */
  hop?: () => Promise<unknown>;
}

/**
 * One router for every server scenario. Every procedure takes the same input and runs the same handler;
 * they differ only in the middleware in front of it, so the difference in throughput is the SDK's cost.
 * With `only`, the router holds just those procedures (each also needs its store or I/O in `stores`).
 */
export function buildBenchRouter(stores: BenchStores, counters: HandlerCounters, only?: readonly string[]) {
  const t = initTRPC.context<Context>().create({ transformer: superjson, errorFormatter: idempotencyErrorFormatter });
  const idempotent = (store: IdempotencyStore) =>
    t.procedure.use(createIdempotency({ store, scope: (ctx: Context) => ctx.user, serializer: superjson }));

  const createOrder = ({ input }: { input: z.infer<typeof orderInput> }) => {
    counters.runs++;
    return {
      orderId: counters.runs,
      item: input.item,
      qty: input.qty,
      totalCents: input.qty * 1999,
      createdAt: new Date(Date.UTC(2026, 0, 2, 3, 4, 5)),
    };
  };
  // The conflict scenario's holder parks here, so that every duplicate meets a live lease.
  const createOrderAfterGate = async (opts: { input: z.infer<typeof orderInput> }) => {
    const gate = counters.gate;
    gate.waiting++;
    await gate.promise;
    return createOrder(opts);
  };

  // A handler that does what a real one does between its input and its answer: wait on a database or an API.
  const createOrderAfter = (wait: () => Promise<unknown>) => async (opts: { input: z.infer<typeof orderInput> }) => {
    await wait();
    return createOrder(opts);
  };

  const postgres = stores.postgres;
  const insertOrder = `INSERT INTO ${postgres?.ordersTable} (item, qty, note, fence) VALUES ($1, $2, $3, $4) RETURNING id`;
  const orderRow = (input: z.infer<typeof orderInput>, fence: number | null) => [
    input.item,
    input.qty,
    input.note,
    fence,
  ];
  const postgresProcedures = postgres && {
    // The baseline of the transactional scenario: the same row, written without idempotency (autocommit).
    pgPlainWrite: t.procedure.input(orderInput).mutation(async ({ input }) => {
      await postgres.pool.query(insertOrder, orderRow(input, null));
      return createOrder({ input });
    }),
    pg: idempotent(postgres.store).input(orderInput).mutation(createOrder),
    pgTx: t.procedure
      .use(
        createIdempotency({
          store: postgres.store,
          scope: (ctx: Context) => ctx.user,
          serializer: superjson,
          transaction: true,
        }),
      )
      .input(orderInput)
      .mutation(async ({ ctx, input }) => {
        await ctx.idempotency.tx.query(insertOrder, orderRow(input, ctx.idempotency.fence));
        return createOrder({ input });
      }),
  };

  const { memory, redis, redisUncoalesced, redisNodeRedis, cluster, io, hop } = stores;
  // Each procedure is built only when it is served and what it needs is there.
  const candidates = {
    plain: () => t.procedure.input(orderInput).mutation(createOrder),
    ...(hop && { plainHop: () => t.procedure.input(orderInput).mutation(createOrderAfter(hop)) }),
    ...(memory && { memory: () => idempotent(memory).input(orderInput).mutation(createOrder) }),
    ...(redis && {
      redis: () => idempotent(redis).input(orderInput).mutation(createOrder),
      conflict: () => idempotent(redis).input(orderInput).mutation(createOrderAfterGate),
    }),
    ...(redisUncoalesced && {
      redisUncoalesced: () => idempotent(redisUncoalesced).input(orderInput).mutation(createOrder),
    }),
    ...(redisNodeRedis && {
      redisNodeRedis: () => idempotent(redisNodeRedis).input(orderInput).mutation(createOrder),
    }),
    ...(io && { plainIo: () => t.procedure.input(orderInput).mutation(createOrderAfter(io)) }),
    ...(io && memory && { memoryIo: () => idempotent(memory).input(orderInput).mutation(createOrderAfter(io)) }),
    ...(io && redis && { redisIo: () => idempotent(redis).input(orderInput).mutation(createOrderAfter(io)) }),
    ...(cluster && { cluster: () => idempotent(cluster).input(orderInput).mutation(createOrder) }),
    ...(postgresProcedures && {
      pgPlainWrite: () => postgresProcedures.pgPlainWrite,
      pg: () => postgresProcedures.pg,
      pgTx: () => postgresProcedures.pgTx,
    }),
  };
  const served = Object.entries(candidates).filter(([path]) => !only || only.includes(path));
  // Typed as if every procedure were there, so that a client of the full router type-checks.
  return t.router(Object.fromEntries(served.map(([path, build]) => [path, build()])) as Built<typeof candidates>);
}

/** The procedures that thunks build, every one present. */
type Built<C> = { [K in keyof C]-?: C[K] extends (() => infer P) | undefined ? P : never };
