/*
 * One server process of the reliability scenarios: a real tRPC app over Node's HTTP server, with the
 * idempotency middleware on a RedisStore (single node or Cluster), a MemoryStore, or a PostgresStore,
 * MySqlStore or SqliteStore whose handler writes its ledger row in the transaction that completes the record. It is started with
 * `node --import tsx` by processes.ts, reads its settings from RELIABILITY_SERVER (JSON), and prints
 * `LISTENING <port>` once it serves. GET /__stats answers with its memory after a forced GC (none for
 * `/__stats?gc=0`), its
 * active handles, the unhandled rejections it saw, its requests in flight and how long its duplicates waited;
 * POST /__open-gate lets its handlers go on, with `handlerGate`.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { initTRPC } from '@trpc/server';
import { createHTTPHandler } from '@trpc/server/adapters/standalone';
import {
  createIdempotency,
  drainIdempotency,
  type IdempotencyEvent,
  type IdempotencyStore,
  idempotencyErrorFormatter,
  MemoryStore,
  nodeIdempotencyContext,
  RedisStore,
} from '@trpc-idempotency/server';
import { Cluster, Redis } from 'ioredis';
import superjson from 'superjson';
import { z } from 'zod';
import { Ledger } from './ledger.js';
import type { ServerConfig, ServerStats } from './serverConfig.js';
import { openSqlStore, type SqlStore } from './sqlStores.js';

const config = JSON.parse(process.env.RELIABILITY_SERVER ?? '{}') as ServerConfig;
let unhandledRejections = 0;
let internalErrors = 0;
let ledgerInserts = 0;
let inFlight = 0;
const events: Record<string, number> = {};
const waitedMs: number[] = [];
process.on('unhandledRejection', (reason) => {
  unhandledRejections++;
  console.error('unhandledRejection', reason);
});

function openStore(): { store: IdempotencyStore; memory?: MemoryStore; sql?: SqlStore } {
  const sql = openSqlStore(config);
  if (sql) return { store: sql.store, sql };
  if (config.store === 'memory') {
    const memory = new MemoryStore();
    return { store: memory, memory };
  }
  // Redis errors while it is down are expected here; the store answers 503 for them.
  const redis =
    config.store === 'cluster'
      ? new Cluster(config.clusterNodes ?? [], { redisOptions: { maxRetriesPerRequest: 1 } })
      : config.store === 'sentinel'
        ? new Redis({
            sentinels: config.sentinels ?? [],
            name: config.sentinelName ?? '',
            maxRetriesPerRequest: 1,
            // Hear of a failover from the sentinels at once, rather than on the next failed reconnect.
            failoverDetector: true,
            // A primary demoted while still reachable answers writes with READONLY: find the new one.
            reconnectOnError: (error) => error.message.startsWith('READONLY'),
          })
        : new Redis(config.redisUrl ?? '', {
            maxRetriesPerRequest: 1,
            ...(config.connectionName ? { connectionName: config.connectionName } : {}),
          });
  redis.on('error', () => {});
  return {
    store: new RedisStore({
      redis,
      prefix: config.prefix,
      timeoutMs: config.storeTimeoutMs,
      ...(config.waitForReplicas ? { waitForReplicas: config.waitForReplicas } : {}),
    } as ConstructorParameters<typeof RedisStore>[0]),
  };
}

const { store, memory, sql } = openStore();
const ledger = config.ledgerUrl ? new Ledger(config.ledgerUrl, config.ledgerNamespace ?? 'ledger') : undefined;

function createContext(opts: Parameters<typeof nodeIdempotencyContext>[0]) {
  const user = opts.req.headers['x-user'];
  return { user: typeof user === 'string' ? user : undefined, ...nodeIdempotencyContext(opts) };
}
type Context = ReturnType<typeof createContext>;

const t = initTRPC.context<Context>().create({ transformer: superjson, errorFormatter: idempotencyErrorFormatter });
const settings = {
  scope: (ctx: Context) => ctx.user,
  leaseMs: config.leaseMs,
  retentionMs: config.retentionMs,
  ...(config.inProgress ? { inProgress: config.inProgress } : {}),
  onEvent: (event: IdempotencyEvent) => {
    const refused = event.type === 'leaseLost' && String(event.error).startsWith('commit refused');
    const name = refused
      ? 'commitRefused'
      : event.fence !== undefined && event.type === 'storeError'
        ? 'storeErrorAfterRun'
        : event.type;
    events[name] = (events[name] ?? 0) + 1;
    if (event.waitedMs !== undefined) waitedMs.push(event.waitedMs);
    if (name === 'storeErrorAfterRun' || name === 'leaseLost') {
      console.error(`event ${name} fence=${event.fence} key=${event.key} ${String(event.error)}`);
    }
  },
};
const idempotent = t.procedure.use(createIdempotency({ store, serializer: superjson, ...settings }));

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const handlerSleepMs = () => {
  const [min, max] = config.handlerSleepMs ?? [0, 0];
  return min + Math.random() * (max - min);
};
/** With `handlerGate`: what handlers hold on after their sleep, until POST /__open-gate. */
let openGate: () => void = () => {};
const gate = config.handlerGate
  ? new Promise<void>((resolve) => {
      openGate = resolve;
    })
  : Promise.resolve();
/** The handler's hold: its sleep, then the gate. */
async function hold(): Promise<void> {
  const ms = handlerSleepMs();
  if (ms > 0) await sleep(ms);
  await gate;
}
const paymentInput = z.object({ intent: z.string(), amount: z.number().int(), note: z.unknown().optional() });

const payment = idempotent.input(paymentInput).mutation(async ({ ctx, input, path }) => {
  const { fence } = ctx.idempotency;
  // The handler deliberately ignores ctx.idempotency.signal: the ledger's fence check is what must
  // stop a stale holder here, so that the scenario shows the fence doing its job.
  await ledger?.begin(input.intent, fence);
  await hold();
  const orderId = randomUUID();
  const accepted = ledger ? await ledger.write({ intent: input.intent, fence, orderId, pid: process.pid }) : true;
  return {
    orderId,
    fence,
    pid: process.pid,
    accepted,
    scope: ctx.user,
    path,
    key: ctx.idempotency.key,
    intent: input.intent,
  };
});

/**
 * The same payment in a SQL database (sqlStores.ts): the run is counted on its own, in a file, and the ledger
 * row goes into the handler's transaction, which the middleware commits only with the outcome. The ledger
 * checks no fence and has no unique constraint: only the transaction keeps a stale holder's row out. With
 * `sqlLedger.transaction: false` the row is written in autocommit instead, and only the claim keeps a second
 * run out.
 */
function sqlPayment(sqlStore: SqlStore, transaction: boolean) {
  const procedure = t.procedure.use(
    transaction
      ? createIdempotency({ store: sqlStore.store, serializer: superjson, ...settings, transaction: true })
      : createIdempotency({ store: sqlStore.store, serializer: superjson, ...settings }),
  );
  return procedure.input(paymentInput).mutation(async ({ ctx, input, path }) => {
    const { fence } = ctx.idempotency;
    sqlStore.countRun({ intent: input.intent, fence, pid: process.pid });
    const orderId = randomUUID();
    const tx = 'tx' in ctx.idempotency ? ctx.idempotency.tx : undefined;
    const write = async () => {
      await sqlStore.insert(tx, { intent: input.intent, fence, orderId, pid: process.pid });
      ledgerInserts++;
    };
    if (config.writeBeforeSleep) await write();
    await hold();
    if (!config.writeBeforeSleep) await write();
    return {
      orderId,
      fence,
      pid: process.pid,
      accepted: true,
      scope: ctx.user,
      path,
      key: ctx.idempotency.key,
      intent: input.intent,
    };
  });
}

const pay = sql ? sqlPayment(sql, config.sqlLedger?.transaction ?? true) : payment;
const router = t.router({ pay, refund: pay });

const trpc = createHTTPHandler({
  router,
  createContext,
  onError: ({ error }) => {
    if (error.code === 'INTERNAL_SERVER_ERROR') {
      internalErrors++;
      console.error('INTERNAL_SERVER_ERROR', error);
    }
  },
});

const server = createServer((req, res) => {
  if (req.url === '/__stats' || req.url === '/__stats?gc=0') {
    if (req.url === '/__stats') (globalThis as { gc?: () => void }).gc?.();
    const stats: ServerStats = {
      pid: process.pid,
      memory: process.memoryUsage(),
      activeResources: process.getActiveResourcesInfo().length,
      unhandledRejections,
      internalErrors,
      memoryStoreSize: memory?.size ?? null,
      events,
      ledgerInserts,
      inFlight,
      waitedMs,
      cpuMs: (process.cpuUsage().user + process.cpuUsage().system) / 1000,
    };
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(stats));
    return;
  }
  if (req.url === '/__open-gate' && req.method === 'POST') {
    openGate();
    res.end('open');
    return;
  }
  inFlight++;
  res.once('close', () => {
    inFlight--;
  });
  trpc(req, res);
});
server.keepAliveTimeout = 30_000;
server.listen(config.port ?? 0, '127.0.0.1', () => {
  console.log(`LISTENING ${(server.address() as AddressInfo).port}`);
});

if (config.drainOnSigterm) {
  const { timeoutMs } = config.drainOnSigterm;
  process.once('SIGTERM', async () => {
    // What an app's SIGTERM handler does: drain the idempotency layer, then stop taking connections.
    const report = await drainIdempotency({ timeoutMs });
    console.log(`DRAINED ${JSON.stringify(report)}`);
    server.close(() => process.exit(0));
    // Keep-alive connections keep the server open: close each one as soon as it has no request in flight.
    setInterval(() => server.closeIdleConnections(), 20).unref();
    setTimeout(() => process.exit(0), 2000).unref();
  });
}
