/*
 * `npm run bench:lag`: how long after the first call's answer a duplicate with the same key gets that
 * same outcome (issue #21). The first call holds its key `--hold` ms (400); the duplicate arrives `--arrive`
 * ms (100) after it, from a client of its own (a second tab or device). Two paths per store:
 *   server waits    the procedure's middleware has `inProgress: { waitMs: 5000 }`;
 *   default         createIdempotency's defaults, and the SDK's default client (createIdempotentClient).
 * Public entry points only (@trpc-idempotency/server, /postgres, /client), as an app would import them. The
 * server runs in this process on loopback HTTP; trials run one after the other, so none waits on another.
 *
 *   npm run bench:lag -- [--trials 50] [--stores memory,redis,postgres] [--hold 400] [--arrive 100] [--json file]
 *
 * PostgreSQL: a database of its own on POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres),
 * created and dropped by the run. Redis: a private redis-server on a free port, or REDIS_URL.
 */
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { initTRPC } from '@trpc/server';
import { createHTTPServer } from '@trpc/server/adapters/standalone';
import { createIdempotentClient } from '@trpc-idempotency/client';
import { createSchema, PostgresStore } from '@trpc-idempotency/postgres';
import {
  createIdempotency,
  type IdempotencyStore,
  idempotencyErrorFormatter,
  MemoryStore,
  nodeIdempotencyContext,
  RedisStore,
} from '@trpc-idempotency/server';
import { Redis } from 'ioredis';
import pg from 'pg';
import { z } from 'zod';
import { startRedis } from '../../test/support/redisServer';
import { percentile } from './stats';

const { values: args } = parseArgs({
  options: {
    trials: { type: 'string', default: '50' },
    stores: { type: 'string', default: 'memory,redis,postgres' },
    hold: { type: 'string', default: '400' },
    arrive: { type: 'string', default: '100' },
    json: { type: 'string' },
  },
});
const TRIALS = Number(args.trials);
const HOLD_MS = Number(args.hold);
const ARRIVE_MS = Number(args.arrive);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A store the run opened, and how to put it away again. */
interface OpenStore {
  name: string;
  store: IdempotencyStore;
  close(): Promise<void>;
}

async function openStore(kind: string): Promise<OpenStore> {
  if (kind === 'memory') {
    const store = new MemoryStore();
    return { name: 'MemoryStore', store, close: async () => store.close() };
  }
  if (kind === 'redis') {
    const server = process.env.REDIS_URL ? undefined : await startRedis();
    const redis = new Redis(process.env.REDIS_URL ?? server!.url, { maxRetriesPerRequest: 1 });
    const store = await new RedisStore({ redis, prefix: `lag-${randomUUID().slice(0, 8)}:` }).ready();
    return {
      name: 'RedisStore',
      store,
      async close() {
        await closeIfItCan(store);
        redis.disconnect();
        await server?.stop();
      },
    };
  }
  if (kind === 'postgres') {
    const adminUrl = process.env.POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
    const database = `bench_lag_${randomUUID().replaceAll('-', '').slice(0, 10)}`;
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${database}`);
    const url = new URL(adminUrl);
    url.pathname = `/${database}`;
    const pool = new pg.Pool({ connectionString: url.toString(), max: 10 });
    await createSchema(pool);
    const store = await new PostgresStore({ pool }).ready();
    return {
      name: 'PostgresStore',
      store,
      async close() {
        await closeIfItCan(store);
        await pool.end();
        await admin.query(`DROP DATABASE ${database}`);
        await admin.end();
      },
    };
  }
  throw new Error(`Unknown store "${kind}": use memory, redis or postgres.`);
}

/** Stores that hold a connection for their notifications close it; an older store has nothing to close. */
async function closeIfItCan(store: IdempotencyStore): Promise<void> {
  await (store as { close?: () => unknown }).close?.();
}

/** A tRPC server whose two procedures hold their key HOLD_MS: one waits for duplicates, one has the defaults. */
async function serve(store: IdempotencyStore) {
  let runs = 0;
  const t = initTRPC.context<ReturnType<typeof nodeIdempotencyContext>>().create({
    errorFormatter: idempotencyErrorFormatter,
  });
  const hold = async () => {
    runs++;
    await sleep(HOLD_MS);
    return { outcome: randomUUID() };
  };
  const input = z.object({ n: z.number() });
  const common = { store, scope: 'global', serializer: 'json' } as const;
  const router = t.router({
    serverWaits: t.procedure
      .use(createIdempotency({ ...common, inProgress: { waitMs: 5000 } }))
      .input(input)
      .mutation(hold),
    defaults: t.procedure.use(createIdempotency(common)).input(input).mutation(hold),
  });
  const server = createHTTPServer({ router, createContext: (opts) => nodeIdempotencyContext(opts) });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    router,
    runs: () => runs,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

type Path = 'serverWaits' | 'defaults';

/** One trial: the lag of the duplicate's answer behind the first call's, in ms. */
async function trial(url: string, path: Path): Promise<number> {
  // Two clients: a second tab or device, not a second call of the same client (which would share its chain).
  type Router = Awaited<ReturnType<typeof serve>>['router'];
  const first = createIdempotentClient<Router>({ url });
  const duplicate = createIdempotentClient<Router>({ url });
  const key = randomUUID();
  const options = { context: { idempotencyKey: key } };
  let firstAt = 0;
  let duplicateAt = 0;
  const firstCall = first[path].mutate({ n: 1 }, options).then((answer) => {
    firstAt = performance.now();
    return answer;
  });
  await sleep(ARRIVE_MS);
  const duplicateCall = duplicate[path].mutate({ n: 1 }, options).then((answer) => {
    duplicateAt = performance.now();
    return answer;
  });
  const [a, b] = await Promise.all([firstCall, duplicateCall]);
  if (a.outcome !== b.outcome) throw new Error(`the duplicate got another outcome (${a.outcome} vs ${b.outcome})`);
  return duplicateAt - firstAt;
}

interface Row {
  store: string;
  path: Path;
  trials: number;
  p50: number;
  p99: number;
  max: number;
  handlerRuns: number;
}

async function measure(kind: string): Promise<Row[]> {
  const opened = await openStore(kind);
  const app = await serve(opened.store);
  const rows: Row[] = [];
  try {
    for (const path of ['serverWaits', 'defaults'] as const) {
      // A few trials first, so that connections, prepared statements and JIT are warm.
      for (let i = 0; i < 3; i++) await trial(app.url, path);
      const runsBefore = app.runs();
      const lags: number[] = [];
      for (let i = 0; i < TRIALS; i++) lags.push(await trial(app.url, path));
      const sorted = lags.sort((x, y) => x - y);
      const row: Row = {
        store: opened.name,
        path,
        trials: TRIALS,
        p50: round(percentile(sorted, 0.5)),
        p99: round(percentile(sorted, 0.99)),
        max: round(sorted.at(-1)!),
        handlerRuns: app.runs() - runsBefore,
      };
      console.log(JSON.stringify(row));
      rows.push(row);
    }
  } finally {
    await app.close();
    await opened.close();
  }
  return rows;
}

const round = (ms: number) => Math.round(ms * 10) / 10;

const rows: Row[] = [];
for (const kind of args.stores.split(',')) rows.push(...(await measure(kind.trim())));
console.log(
  `\nDuplicate lag after the first answer (hold ${HOLD_MS} ms, duplicate at ${ARRIVE_MS} ms, ${TRIALS} trials)\n`,
);
console.log('| store | path | p50 ms | p99 ms | max ms | handler runs |\n|---|---|---|---|---|---|');
for (const row of rows) {
  console.log(`| ${row.store} | ${row.path} | ${row.p50} | ${row.p99} | ${row.max} | ${row.handlerRuns} |`);
}
if (args.json) writeFileSync(args.json, `${JSON.stringify({ holdMs: HOLD_MS, arriveMs: ARRIVE_MS, rows }, null, 2)}\n`);
process.exit(0);
