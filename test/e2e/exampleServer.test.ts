import { randomUUID } from 'node:crypto';
import { type AttemptEvent, createIdempotentClient } from '@trpc-idempotency/client';
import { Redis } from 'ioredis';
import superjson from 'superjson';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ChaosSettings } from '../../examples/react-node/server/src/chaos.js';
import { type ExampleServer, startExampleServer } from '../../examples/react-node/server/src/exampleServer.js';
import { type Ledger, MemoryLedger, StaleFenceError } from '../../examples/react-node/server/src/ledger.js';
import { RedisLedger } from '../../examples/react-node/server/src/redisLedger.js';
import type { AppRouter } from '../../examples/react-node/server/src/router.js';
import { dropSchema, POSTGRES_HINT, testPool, testTable } from '../support/postgres.js';
import { hasRedisServer, type RedisProcess, startRedis } from '../support/redisServer.js';

// The example's server over real HTTP, without a browser: the same faults the page's chaos panel
// switches on, met by plain HTTP (the curl form of the docs) and by the client SDK; its ledger's fence
// check; what it does without the demo flag; what it answers while its Redis is dead; and the example on
// PostgreSQL, where the payment commits in the idempotency record's transaction. The HTTP contract
// that every example keeps (replay, refusals, duplicates, the SDK) is in exampleConformance.test.ts.

const PAYMENT = { amount: 4200, currency: 'EUR' as const, note: 'Espresso beans, 1 kg' };

const postgresUrl = inject('postgresUrl');
if (!postgresUrl) console.warn(`The example on PostgreSQL is skipped: no PostgreSQL. ${POSTGRES_HINT}`);

/** One `payments.create` the way the README's curl command sends it. */
async function curlPay(url: string, key: string, input: object = PAYMENT) {
  const response = await fetch(`${url}/trpc/payments.create`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'Idempotency-Key': key },
    body: JSON.stringify({ json: input }),
  });
  const text = await response.text();
  return { status: response.status, replayed: response.headers.get('idempotent-replayed'), body: JSON.parse(text) };
}

const clientOf = (server: ExampleServer) =>
  createIdempotentClient<AppRouter>({ url: `${server.url}/trpc`, transformer: superjson });

function clientFor(server: ExampleServer, attempts: AttemptEvent[], settings: { attemptTimeoutMs?: number } = {}) {
  return createIdempotentClient<AppRouter>({
    url: `${server.url}/trpc`,
    transformer: superjson,
    idempotency: { baseDelayMs: 20, maxDelayMs: 100, onAttempt: (event) => attempts.push(event), ...settings },
  });
}

const setChaos = (server: ExampleServer, settings: Partial<ChaosSettings>) =>
  clientOf(server).chaos.set.mutate(settings);

async function paymentsWithKey(server: ExampleServer, key: string) {
  return (await clientOf(server).payments.list.query()).filter((payment) => payment.key === key);
}

/** The server as a test reaches it: by address, since "localhost" may resolve to ::1 first. */
async function start(options: Parameters<typeof startExampleServer>[0]): Promise<ExampleServer> {
  const server = await startExampleServer(options);
  return { ...server, url: server.url.replace('localhost', '127.0.0.1') };
}

describe('the example server, in memory, as the demo', () => {
  let server: ExampleServer;
  beforeAll(async () => {
    server = await start({ port: 0, demo: true });
  });
  afterAll(() => server.close());

  it('refuses an amount with a message in words and zod issues by field, then pays the fixed amount under the same key once', async () => {
    const key = `too-much-${randomUUID()}`;
    const refused = await curlPay(server.url, key, { ...PAYMENT, amount: 2_500_000 });
    expect(refused.status).toBe(400);
    const { message, data } = refused.body.error.json;
    expect(message).toBe('The input was not accepted. amount: A single payment can be at most 10,000.00.');
    expect(data.zodError.fieldErrors).toEqual({ amount: ['A single payment can be at most 10,000.00.'] });
    expect(data.idempotency).toBeNull();
    expect(await paymentsWithKey(server, key)).toEqual([]);

    expect((await curlPay(server.url, key)).status).toBe(200);
    expect((await curlPay(server.url, key)).replayed).toBe('true');
    expect(await paymentsWithKey(server, key)).toHaveLength(1);
  });

  it('drops a fresh success after the commit, lets the replay through, and the client ends with one payment', async () => {
    await setChaos(server, { dropResponseAfterCommit: true });
    try {
      const key = `drop-${randomUUID()}`;
      await expect(curlPay(server.url, key)).rejects.toThrow();
      expect(await paymentsWithKey(server, key)).toHaveLength(1);
      expect(await curlPay(server.url, key)).toMatchObject({ status: 200, replayed: 'true' });

      const attempts: AttemptEvent[] = [];
      const payment = await clientFor(server, attempts).payments.create.mutate(PAYMENT);
      const ended = attempts.filter((event) => event.outcome !== 'started');
      expect(ended.map((event) => event.outcome)).toEqual(['retrying', 'succeeded']);
      expect(ended[0]!.reason).toBe('network');
      expect(ended[1]!.replayed).toBe(true);
      expect(new Set(attempts.map((event) => event.key))).toEqual(new Set([payment.key]));
      expect(await paymentsWithKey(server, payment.key)).toHaveLength(1);
    } finally {
      await setChaos(server, { dropResponseAfterCommit: false });
    }
  });

  it('fails the first N attempts of each key with a tRPC-shaped 503, before the handler runs', async () => {
    await setChaos(server, { failFirstAttempts: 2 });
    try {
      const key = `fail-${randomUUID()}`;
      const first = await curlPay(server.url, key);
      expect(first.status).toBe(503);
      expect(superjson.deserialize(first.body.error)).toMatchObject({
        data: { code: 'SERVICE_UNAVAILABLE', httpStatus: 503 },
      });
      expect(await paymentsWithKey(server, key)).toHaveLength(0);
      expect((await curlPay(server.url, key)).status).toBe(503);
      expect((await curlPay(server.url, key)).status).toBe(200);

      const attempts: AttemptEvent[] = [];
      const payment = await clientFor(server, attempts).payments.create.mutate(PAYMENT);
      const ended = attempts.filter((event) => event.outcome !== 'started');
      expect(ended.map((event) => [event.outcome, event.status ?? null])).toEqual([
        ['retrying', 503],
        ['retrying', 503],
        ['succeeded', null],
      ]);
      expect(await paymentsWithKey(server, payment.key)).toHaveLength(1);
    } finally {
      await setChaos(server, { failFirstAttempts: 0 });
    }
  });

  it('pauses the first handler past its lease: the retry pays with a higher fence, the ledger refuses the late write', async () => {
    await setChaos(server, { pauseHandlerPastLease: true });
    try {
      const attempts: AttemptEvent[] = [];
      // A short attempt timeout, so that the client gives up on the paused request soon; the retry meets
      // 409 IN_PROGRESS until the paused holder's lease (5 s in the demo) runs out, then takes over.
      const client = clientFor(server, attempts, { attemptTimeoutMs: 1500 });
      const payment = await client.payments.create.mutate(PAYMENT);
      expect(payment.fence).toBeGreaterThan(1);
      const ended = attempts.filter((event) => event.outcome !== 'started');
      expect(ended[0]).toMatchObject({ outcome: 'retrying', reason: 'timeout' });
      expect(ended.at(-1)).toMatchObject({ outcome: 'succeeded', replayed: false });

      await expect
        .poll(
          async () => (await clientOf(server).payments.refusedWrites.query()).filter((w) => w.key === payment.key),
          {
            timeout: 10_000,
          },
        )
        .toEqual([expect.objectContaining({ fence: 1, newestFence: payment.fence, amount: PAYMENT.amount })]);
      expect(await paymentsWithKey(server, payment.key)).toEqual([expect.objectContaining({ fence: payment.fence })]);
    } finally {
      await setChaos(server, { pauseHandlerPastLease: false });
    }
  }, 30_000);

  it('has no store switch on memory: "store unreachable" stays off', async () => {
    const state = await setChaos(server, { storeUnreachable: true });
    expect(state).toMatchObject({ backend: 'memory', settings: { storeUnreachable: false } });
  });

  it('tells the page which store it uses, and that it runs as the demo', async () => {
    expect(await clientOf(server).status.query()).toEqual({
      backend: 'memory',
      demo: true,
      leaseMs: 5000,
      store: true,
      ledger: true,
    });
  });
});

describe('the example server without the demo flag (a server copied from the example)', () => {
  let server: ExampleServer;
  beforeAll(async () => {
    server = await start({ port: 0 });
  });
  afterAll(() => server.close());

  it('answers 404 on the chaos endpoints and applies no fault', async () => {
    for (const call of [
      fetch(`${server.url}/trpc/chaos.get`),
      fetch(`${server.url}/trpc/chaos.set`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ json: { dropResponseAfterCommit: true, failFirstAttempts: 3 } }),
      }),
    ]) {
      const response = await call;
      expect(response.status).toBe(404);
      expect((await response.json()).error.json.data.code).toBe('NOT_FOUND');
    }
    const key = `plain-${randomUUID()}`;
    expect((await curlPay(server.url, key)).status).toBe(200);
    expect(await clientOf(server).status.query()).toMatchObject({ demo: false, leaseMs: 30_000 });
  });
});

describe.each([
  ['MemoryLedger', async () => ({ ledger: new MemoryLedger() as Ledger, close: async () => {} })],
  [
    'RedisLedger',
    async () => {
      const redis = new Redis(inject('redisUrl'));
      return {
        ledger: new RedisLedger(redis, `ledger-test-${randomUUID()}:`) as Ledger,
        close: async () => redis.quit(),
      };
    },
  ],
])('the example’s %s', (_name, open) => {
  let ledger: Ledger;
  let close: () => Promise<unknown>;
  beforeAll(async () => {
    ({ ledger, close } = await open());
  });
  afterAll(() => close());

  it('refuses a write whose fence is lower than the newest it has seen for that intent, and lists the refusal', async () => {
    const key = `fenced-${randomUUID()}`;
    const other = `other-${randomUUID()}`;
    const newer = await ledger.record({ ...PAYMENT, key, fence: 2 });
    expect(newer).toMatchObject({ key, fence: 2, id: expect.stringMatching(/^pay_\d{4}$/) });
    const late = ledger.record({ ...PAYMENT, key, fence: 1 });
    await expect(late).rejects.toBeInstanceOf(StaleFenceError);
    await expect(late).rejects.toMatchObject({ refused: { key, fence: 1, newestFence: 2 } });
    // Another intent has fences of its own.
    await expect(ledger.record({ ...PAYMENT, key: other, fence: 1 })).resolves.toMatchObject({ fence: 1 });

    const payments = await ledger.list();
    expect(payments.filter((payment) => payment.key === key)).toEqual([
      { ...PAYMENT, key, fence: 2, id: newer.id, createdAt: expect.any(Date) },
    ]);
    expect(payments[0]).toMatchObject({ key: other });
    expect((await ledger.refusals()).filter((write) => write.key === key)).toEqual([
      {
        how: 'refused',
        key,
        fence: 1,
        newestFence: 2,
        amount: PAYMENT.amount,
        currency: PAYMENT.currency,
        refusedAt: expect.any(Date),
      },
    ]);
  });
});

describe('the example server, on Redis', () => {
  let server: ExampleServer;
  beforeAll(async () => {
    server = await start({ port: 0, redisUrl: inject('redisUrl'), demo: true });
  });
  afterAll(() => server?.close());

  it('answers 503 STORE_UNAVAILABLE and charges nothing while the store is cut off, then pays once when it is back', async () => {
    const key = `outage-${randomUUID()}`;
    await setChaos(server, { storeUnreachable: true });
    try {
      expect(await clientOf(server).status.query()).toMatchObject({ backend: 'redis', store: false, ledger: true });
      const down = await curlPay(server.url, key);
      expect(down.status).toBe(503);
      expect(down.body.error.json.data.idempotency.code).toBe('STORE_UNAVAILABLE');
      expect(await paymentsWithKey(server, key)).toHaveLength(0);
    } finally {
      await setChaos(server, { storeUnreachable: false });
    }
    expect((await curlPay(server.url, key)).status).toBe(200);
    expect((await curlPay(server.url, key)).replayed).toBe('true');
    expect(await paymentsWithKey(server, key)).toHaveLength(1);
  });
});

describe.skipIf(!hasRedisServer())('the example server, when its Redis dies', () => {
  let redis: RedisProcess;
  let server: ExampleServer;
  beforeAll(async () => {
    redis = await startRedis();
    server = await start({ port: 0, redisUrl: redis.url, demo: true });
  });
  afterAll(async () => {
    await server?.close();
    await redis?.stop();
  });

  // The test's own timeout is the bound: with ioredis' defaults a ledger read took 34 s here.
  it('answers every query at once: the ledger with 503, the status and the switches from memory', async () => {
    const key = `before-${randomUUID()}`;
    expect((await curlPay(server.url, key)).status).toBe(200);
    await redis.stop();

    const list = await fetch(`${server.url}/trpc/payments.list`);
    expect(list.status).toBe(503);
    expect((await list.json()).error.json.message).toBe('The ledger cannot be reached right now.');
    expect(await clientOf(server).status.query()).toMatchObject({ backend: 'redis', store: false, ledger: false });
    expect((await clientOf(server).chaos.get.query()).settings.dropResponseAfterCommit).toBe(false);
    const pay = await curlPay(server.url, `during-${randomUUID()}`);
    expect(pay.status).toBe(503);
    expect(pay.body.error.json.data.idempotency.code).toBe('STORE_UNAVAILABLE');

    await redis.restart();
    await expect
      .poll(() => clientOf(server).status.query(), { timeout: 8000 })
      .toMatchObject({ store: true, ledger: true });
    expect((await curlPay(server.url, `after-${randomUUID()}`)).status).toBe(200);
  }, 12_000);
});

describe.skipIf(!postgresUrl)('the example server, on PostgreSQL (store and ledger in one database)', () => {
  // Tables of its own in the shared test database, dropped afterwards.
  const tables = { store: testTable('idem'), ledger: testTable('ledger') };
  const pool = testPool(postgresUrl ?? '', 2);
  let server: ExampleServer;
  beforeAll(async () => {
    server = await start({ port: 0, databaseUrl: postgresUrl!, postgresTables: tables, demo: true });
  });
  afterAll(async () => {
    await server?.close();
    await dropSchema(pool, tables.store);
    await pool.query(`DROP TABLE IF EXISTS ${tables.ledger}`);
    await pool.end();
  });

  /** The ledger rows of a key, counted in the table itself. */
  const rowsWithKey = async (key: string) =>
    Number((await pool.query(`SELECT count(*) FROM ${tables.ledger} WHERE key = $1`, [key])).rows[0].count);

  it('pays the same key twice once: the repeat is replayed, and the table holds exactly one row', async () => {
    expect(await clientOf(server).status.query()).toMatchObject({ backend: 'postgres', store: true, ledger: true });
    // Host, port and database: never the user or password of the URL.
    expect(server.where).toMatch(/^PostgreSQL at [^@\s]+:\d+\/\w+$/);
    const key = `pg-${randomUUID()}`;
    const first = await curlPay(server.url, key);
    const again = await curlPay(server.url, key);
    expect(first.status).toBe(200);
    expect(again).toMatchObject({ status: 200, replayed: 'true' });
    expect(again.body).toEqual(first.body);
    expect(await rowsWithKey(key)).toBe(1);
    expect(await paymentsWithKey(server, key)).toEqual([expect.objectContaining({ ...PAYMENT, key, fence: 1 })]);
  });

  it('answers 503 STORE_UNAVAILABLE and charges nothing while the store is cut off, then pays once when it is back', async () => {
    const key = `pg-outage-${randomUUID()}`;
    await setChaos(server, { storeUnreachable: true });
    try {
      expect(await clientOf(server).status.query()).toMatchObject({ backend: 'postgres', store: false, ledger: true });
      const down = await curlPay(server.url, key);
      expect(down.status).toBe(503);
      expect(down.body.error.json.data.idempotency.code).toBe('STORE_UNAVAILABLE');
      expect(await rowsWithKey(key)).toBe(0);
    } finally {
      await setChaos(server, { storeUnreachable: false });
    }
    expect((await curlPay(server.url, key)).status).toBe(200);
    expect((await curlPay(server.url, key)).replayed).toBe('true');
    expect(await rowsWithKey(key)).toBe(1);
  });

  it('rolls back the late write of a handler paused past its lease: one row, and the page is told of the rollback', async () => {
    await setChaos(server, { pauseHandlerPastLease: true });
    try {
      const attempts: AttemptEvent[] = [];
      const client = clientFor(server, attempts, { attemptTimeoutMs: 1500 });
      const payment = await client.payments.create.mutate(PAYMENT);
      expect(payment.fence).toBeGreaterThan(1);
      // The paused holder comes back a second after the retry's write, inserts its row in its own
      // transaction, and the commit is refused: nothing of it remains.
      await expect
        .poll(
          async () => (await clientOf(server).payments.refusedWrites.query()).filter((w) => w.key === payment.key),
          { timeout: 10_000 },
        )
        .toEqual([
          expect.objectContaining({ how: 'rolled-back', fence: 1, newestFence: payment.fence, amount: PAYMENT.amount }),
        ]);
      expect(await rowsWithKey(payment.key)).toBe(1);
      expect(await paymentsWithKey(server, payment.key)).toEqual([expect.objectContaining({ fence: payment.fence })]);
    } finally {
      await setChaos(server, { pauseHandlerPastLease: false });
    }
  }, 30_000);

  it('ends the start with a typed error, not a server that answers 503, when the database cannot be reached', async () => {
    const unreachable = 'postgres://postgres@127.0.0.1:1/nothing';
    await expect(startExampleServer({ port: 0, databaseUrl: unreachable })).rejects.toMatchObject({
      name: 'PostgresStoreSetupError',
      code: 'CONNECTION_FAILED',
    });
  });
});
