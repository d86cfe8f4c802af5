import { randomUUID } from 'node:crypto';
import { type AttemptEvent, createIdempotentClient } from '@trpc-idempotency/client';
import superjson from 'superjson';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ChaosSettings } from '../../examples/react-node/server/src/chaos.js';
import { type ExampleServer, startExampleServer } from '../../examples/react-node/server/src/exampleServer.js';
import type { AppRouter } from '../../examples/react-node/server/src/router.js';

// The example's server over real HTTP, without a browser: the same faults the page's chaos panel
// switches on, met by plain HTTP (the curl form of the docs) and by the client SDK. The HTTP contract that
// every example keeps (replay, refusals, duplicates, the SDK) is in exampleConformance.test.ts.

const PAYMENT = { amount: 4200, currency: 'EUR' as const, note: 'Espresso beans, 1 kg' };

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

function clientFor(server: ExampleServer, attempts: AttemptEvent[]) {
  return createIdempotentClient<AppRouter>({
    url: `${server.url}/trpc`,
    transformer: superjson,
    idempotency: { baseDelayMs: 20, maxDelayMs: 100, onAttempt: (event) => attempts.push(event) },
  });
}

async function setChaos(server: ExampleServer, settings: Partial<ChaosSettings>) {
  const client = createIdempotentClient<AppRouter>({ url: `${server.url}/trpc`, transformer: superjson });
  return client.chaos.set.mutate(settings);
}

async function paymentsWithKey(server: ExampleServer, key: string) {
  const client = createIdempotentClient<AppRouter>({ url: `${server.url}/trpc`, transformer: superjson });
  return (await client.payments.list.query()).filter((payment) => payment.key === key);
}

describe('the example server, in memory', () => {
  let server: ExampleServer;
  beforeAll(async () => {
    server = await startExampleServer({ port: 0 });
    server = { ...server, url: server.url.replace('localhost', '127.0.0.1') };
  });
  afterAll(() => server.close());

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

  it('has no store switch on memory: "store unreachable" stays off', async () => {
    const state = await setChaos(server, { storeUnreachable: true });
    expect(state).toMatchObject({ backend: 'memory', settings: { storeUnreachable: false } });
  });
});

describe('the example server, on Redis', () => {
  let server: ExampleServer;
  beforeAll(async () => {
    server = await startExampleServer({ port: 0, redisUrl: inject('redisUrl') });
    server = { ...server, url: server.url.replace('localhost', '127.0.0.1') };
  });
  afterAll(() => server?.close());

  it('answers 503 STORE_UNAVAILABLE and charges nothing while the store is cut off, then pays once when it is back', async () => {
    const key = `outage-${randomUUID()}`;
    await setChaos(server, { storeUnreachable: true });
    try {
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
