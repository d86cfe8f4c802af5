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

/** The stores behind the idempotent procedures; without a cluster, the cluster procedure is left out. */
export interface BenchStores {
  memory: IdempotencyStore;
  redis: IdempotencyStore;
  /** The same Redis through a RedisStore with `coalesceWrites: false`: one write() per command. */
  redisUncoalesced: IdempotencyStore;
  /** The same Redis through node-redis, by the bench-only shim of nodeRedisShim.ts (an experiment). */
  redisNodeRedis: IdempotencyStore;
  cluster?: IdempotencyStore;
  /** A PostgresStore and its pool, whose handlers write their order row to `ordersTable`. */
  postgres?: { store: PostgresStore; pool: pg.Pool; ordersTable: string };
}

/**
 * One router for every server scenario. Every procedure takes the same input and runs the same handler;
 * they differ only in the middleware in front of it, so the difference in throughput is the SDK's cost.
 * `io` is the I/O that the handler of the `*Io` procedures waits on (one echo round trip, ioEcho.ts).
 */
export function buildBenchRouter(stores: BenchStores, counters: HandlerCounters, io: () => Promise<void>) {
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
  const createOrderAfterIo = async (opts: { input: z.infer<typeof orderInput> }) => {
    await io();
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

  const procedures = {
    plain: t.procedure.input(orderInput).mutation(createOrder),
    memory: idempotent(stores.memory).input(orderInput).mutation(createOrder),
    redis: idempotent(stores.redis).input(orderInput).mutation(createOrder),
    redisUncoalesced: idempotent(stores.redisUncoalesced).input(orderInput).mutation(createOrder),
    redisNodeRedis: idempotent(stores.redisNodeRedis).input(orderInput).mutation(createOrder),
    conflict: idempotent(stores.redis).input(orderInput).mutation(createOrderAfterGate),
    plainIo: t.procedure.input(orderInput).mutation(createOrderAfterIo),
    memoryIo: idempotent(stores.memory).input(orderInput).mutation(createOrderAfterIo),
    redisIo: idempotent(stores.redis).input(orderInput).mutation(createOrderAfterIo),
  };
  const cluster = stores.cluster && { cluster: idempotent(stores.cluster).input(orderInput).mutation(createOrder) };
  return t.router({ ...procedures, ...cluster, ...postgresProcedures });
}
