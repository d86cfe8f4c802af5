import { initTRPC, TRPCError } from '@trpc/server';
import {
  createIdempotency,
  type IdempotencyEvent,
  idempotencyErrorFormatter,
  type TransactionalStore,
} from '@trpc-idempotency/server';
import Database from 'better-sqlite3';
import { eq } from 'drizzle-orm';
import { drizzle as drizzleSqlite } from 'drizzle-orm/better-sqlite3';
import { int, serial as mysqlSerial, mysqlTable, varchar } from 'drizzle-orm/mysql-core';
import { drizzle as drizzleMySql } from 'drizzle-orm/mysql2';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { integer, pgTable, serial, text } from 'drizzle-orm/pg-core';
import { integer as sqliteInteger, sqliteTable, text as sqliteText } from 'drizzle-orm/sqlite-core';
import type mysql from 'mysql2/promise';
import type pg from 'pg';
import superjson from 'superjson';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { z } from 'zod';
import { type Context, postMutation, serve } from '../support/app.js';
import { newKey } from '../support/backends.js';
import { openMySqlStore } from '../support/mysql.js';
import { openPostgresStore, testTable } from '../support/postgres.js';
import { openSqliteStore } from '../support/sqlite.js';

/*
 * Drizzle with transaction: true (docs/protocol.md §5), on each database a store supports: the handler
 * writes through drizzle(ctx.idempotency.tx), a Drizzle instance bound to the store's transaction client.
 * The payments table has no unique constraint and the handler checks no fence, so its committed rows count
 * exactly what the store's transaction let through.
 */

/** What one database needs for the test: the store, a Drizzle insert through the handler's client, and a count. */
interface DrizzleBackend {
  store: TransactionalStore<any>;
  /** Writes the payment through a Drizzle instance on `tx`, the store's transaction client. */
  insert(tx: any, intent: string, fence: number): Promise<void>;
  /** Committed payments of one intent, read outside any handler. */
  rows(intent: string): Promise<number[]>;
  close(): Promise<void>;
}

async function postgresBackend(url: string): Promise<DrizzleBackend> {
  const open = await openPostgresStore(url);
  const name = testTable('drizzle_payments');
  await open.pool.query(`CREATE TABLE ${name} (id serial PRIMARY KEY, intent text NOT NULL, fence int NOT NULL)`);
  const payments = pgTable(name, {
    id: serial('id').primaryKey(),
    intent: text('intent').notNull(),
    fence: integer('fence').notNull(),
  });
  const reader = drizzlePg({ client: open.pool });
  return {
    store: open.store,
    insert: async (tx: pg.PoolClient, intent, fence) => {
      await drizzlePg({ client: tx }).insert(payments).values({ intent, fence });
    },
    rows: async (intent) =>
      (await reader.select().from(payments).where(eq(payments.intent, intent))).map((row) => row.fence),
    close: async () => {
      await open.pool.query(`DROP TABLE IF EXISTS ${name}`);
      await open.drop();
    },
  };
}

async function mysqlBackend(url: string): Promise<DrizzleBackend> {
  const open = await openMySqlStore(url);
  const name = testTable('drizzle_payments');
  await open.pool.query(
    `CREATE TABLE ${name} (id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY, intent VARCHAR(100) NOT NULL, fence INT NOT NULL) ENGINE = InnoDB`,
  );
  const payments = mysqlTable(name, {
    id: mysqlSerial('id').primaryKey(),
    intent: varchar('intent', { length: 100 }).notNull(),
    fence: int('fence').notNull(),
  });
  const reader = drizzleMySql({ client: open.pool });
  return {
    store: open.store,
    insert: async (tx: mysql.PoolConnection, intent, fence) => {
      await drizzleMySql({ client: tx }).insert(payments).values({ intent, fence });
    },
    rows: async (intent) =>
      (await reader.select().from(payments).where(eq(payments.intent, intent))).map((row) => row.fence),
    close: async () => {
      await open.pool.query(`DROP TABLE IF EXISTS ${name}`);
      await open.drop();
    },
  };
}

async function sqliteBackend(): Promise<DrizzleBackend> {
  const open = await openSqliteStore();
  const own = new Database(open.filename);
  own.exec('CREATE TABLE payments (id INTEGER PRIMARY KEY, intent TEXT NOT NULL, fence INTEGER NOT NULL)');
  const payments = sqliteTable('payments', {
    id: sqliteInteger('id').primaryKey(),
    intent: sqliteText('intent').notNull(),
    fence: sqliteInteger('fence').notNull(),
  });
  const reader = drizzleSqlite({ client: own });
  return {
    store: open.store,
    insert: async (tx: Database.Database, intent, fence) => {
      drizzleSqlite({ client: tx }).insert(payments).values({ intent, fence }).run();
    },
    rows: async (intent) =>
      reader
        .select()
        .from(payments)
        .where(eq(payments.intent, intent))
        .all()
        .map((row) => row.fence),
    close: async () => {
      own.close();
      await open.remove();
    },
  };
}

const postgresUrl = inject('postgresUrl');
const mysqlUrl = inject('mysqlUrl');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.each([
  { database: 'PostgreSQL (node-postgres)', open: () => postgresBackend(postgresUrl!), skip: !postgresUrl },
  { database: 'MariaDB (mysql2)', open: () => mysqlBackend(mysqlUrl!), skip: !mysqlUrl },
  { database: 'SQLite (better-sqlite3)', open: () => sqliteBackend(), skip: false },
])('Drizzle through ctx.idempotency.tx on $database', ({ open, skip }) => {
  let backend: DrizzleBackend;
  let renewalsFail = false;
  const events: IdempotencyEvent[] = [];
  const runs = new Map<string, number>();
  let app: { url: string; close(): Promise<void> };

  beforeAll(async () => {
    if (skip) return;
    backend = await open();
    const store = backend.store;
    // A fault the database cannot be made to produce on cue: renewals that fail, so that the lease runs out
    // under a handler that is still running.
    const flaky: TransactionalStore<unknown> = {
      claim: (request) => store.claim(request),
      complete: (request) => store.complete(request),
      release: (request) => store.release(request),
      claimInTransaction: (request) => store.claimInTransaction(request),
      renewLease: (request) => (renewalsFail ? Promise.reject(new Error('renewal lost')) : store.renewLease(request)),
    };
    const t = initTRPC.context<Context>().create({ transformer: superjson, errorFormatter: idempotencyErrorFormatter });
    const idempotency = createIdempotency({
      store: flaky,
      scope: (ctx: Context) => ctx.user,
      serializer: superjson,
      transaction: true,
      leaseMs: 400,
      onEvent: (event) => events.push(event),
    });
    const router = t.router({
      pay: t.procedure
        .use(idempotency)
        .input(z.object({ intent: z.string(), sleepMs: z.number().optional(), crash: z.boolean().optional() }))
        .mutation(async ({ ctx, input }) => {
          const { tx, fence } = ctx.idempotency;
          await backend.insert(tx, input.intent, fence);
          runs.set(input.intent, (runs.get(input.intent) ?? 0) + 1);
          if (input.sleepMs) await sleep(input.sleepMs);
          if (input.crash) throw new TRPCError({ code: 'INTERNAL_SERVER_ERROR', message: 'crashed after its write' });
          return { intent: input.intent, fence };
        }),
    });
    app = await serve(router);
  });

  afterAll(async () => {
    await app?.close();
    await backend?.close();
  });

  const pay = (key: string, input: Record<string, unknown>) =>
    postMutation(app.url, 'pay', input, { 'x-user': 'ann', 'idempotency-key': key });

  it.skipIf(skip)(
    'commits the Drizzle row with the outcome; a replay writes none, a crash rolls its row back',
    async () => {
      const key = newKey();
      expect((await pay(key, { intent: key })).status).toBe(200);
      const replay = await pay(key, { intent: key });
      expect(replay.headers.get('idempotent-replayed')).toBe('true');
      expect(runs.get(key)).toBe(1);
      expect(await backend.rows(key)).toEqual([1]);

      const crashKey = newKey();
      expect((await pay(crashKey, { intent: crashKey, crash: true })).status).toBe(500);
      expect(runs.get(crashKey)).toBe(1);
      expect(await backend.rows(crashKey)).toEqual([]);
    },
  );

  it.skipIf(skip)('rolls back the Drizzle row of a holder whose lease ran out; the retry commits one row', async () => {
    const key = newKey();
    renewalsFail = true;
    let stale: Awaited<ReturnType<typeof pay>>;
    try {
      // The handler writes through Drizzle at once, then outlives its 400 ms lease, unrenewed.
      stale = await pay(key, { intent: key, sleepMs: 1200 });
    } finally {
      renewalsFail = false;
    }
    expect(stale.status).toBe(409);
    expect(stale.error?.data.idempotency.code).toBe('IN_PROGRESS');
    expect(runs.get(key)).toBe(1);
    expect(await backend.rows(key)).toEqual([]);
    expect(events.some((event) => event.type === 'leaseLost' && event.fence === 1)).toBe(true);

    // The same input under the same key: the lease ran out with nothing committed, so it runs again.
    const retry = await pay(key, { intent: key, sleepMs: 1200 });
    expect(retry.status).toBe(200);
    expect(retry.data.fence).toBe(2);
    expect(runs.get(key)).toBe(2);
    expect(await backend.rows(key)).toEqual([2]);
  });
});
