import { initTRPC } from '@trpc/server';
import {
  createIdempotency,
  type IdempotencyStore,
  idempotencyErrorFormatter,
  nodeIdempotencyContext,
} from '@trpc-idempotency/server';
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
  /** The same Redis through an ioredis client with `enableAutoPipelining`. */
  redisPipelined: IdempotencyStore;
  /** The same Redis through node-redis, by the bench-only shim of nodeRedisShim.ts (an experiment). */
  redisNodeRedis: IdempotencyStore;
  cluster?: IdempotencyStore;
}

/**
 * One router for every server scenario. Every procedure takes the same input and runs the same handler;
 * they differ only in the middleware in front of it, so the difference in throughput is the SDK's cost.
 */
export function buildBenchRouter(stores: BenchStores, counters: HandlerCounters) {
  const t = initTRPC.context<Context>().create({ transformer: superjson, errorFormatter: idempotencyErrorFormatter });
  const idempotent = (store: IdempotencyStore) =>
    t.procedure.use(createIdempotency({ store, scope: (ctx: Context) => ctx.user }));

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

  const procedures = {
    plain: t.procedure.input(orderInput).mutation(createOrder),
    memory: idempotent(stores.memory).input(orderInput).mutation(createOrder),
    redis: idempotent(stores.redis).input(orderInput).mutation(createOrder),
    redisPipelined: idempotent(stores.redisPipelined).input(orderInput).mutation(createOrder),
    redisNodeRedis: idempotent(stores.redisNodeRedis).input(orderInput).mutation(createOrder),
    conflict: idempotent(stores.redis).input(orderInput).mutation(createOrderAfterGate),
  };
  if (!stores.cluster) return t.router(procedures);
  return t.router({ ...procedures, cluster: idempotent(stores.cluster).input(orderInput).mutation(createOrder) });
}
