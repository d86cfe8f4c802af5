import { createTRPCClient, httpBatchLink, httpBatchStreamLink, httpLink } from '@trpc/client';
import {
  type AttemptEvent,
  createIdempotentClient,
  IDEMPOTENCY_BATCH_KEYS_HEADER,
  type IdempotencyLinkOptions,
  idempotencyHeaders,
  idempotencyLink,
} from '@trpc-idempotency/client';
import { parseBatchKeys } from '@trpc-idempotency/protocol';
import superjson from 'superjson';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Arrival, type RecordingRouter, startRecordingServer } from './recordingServer.js';

const op = (key?: string) => ({ context: key === undefined ? {} : { idempotencyKey: key } });

/** The key the batch header of an arrival's request names for its batch index. */
const batchKeyOf = (arrival: Arrival) => {
  const parsed = parseBatchKeys(arrival.batchKeysHeader ?? '');
  return parsed.ok ? parsed.keys.get(arrival.batchIndex) : undefined;
};

// Retries on the next macrotask, recording each planned delay, so no test waits on the wall clock.
const immediateSchedule = (planned: number[]): NonNullable<IdempotencyLinkOptions['schedule']> => {
  return (run, delayMs) => {
    planned.push(delayMs);
    const timer = setImmediate(run);
    return () => clearImmediate(timer);
  };
};

describe('idempotencyHeaders', () => {
  it('writes one Idempotency-Key for an operation, or for the { op } that httpLink hands its headers', () => {
    expect(idempotencyHeaders(op('a1'))).toEqual({ 'Idempotency-Key': 'a1' });
    expect(idempotencyHeaders({ op: op('a1') })).toEqual({ 'Idempotency-Key': 'a1' });
    expect(idempotencyHeaders(op())).toEqual({});
    expect(idempotencyHeaders({ op: op() })).toEqual({});
  });

  it("writes a batch's keys by batch index for the { opList } of httpBatchLink, and nothing without a key", () => {
    expect(idempotencyHeaders({ opList: [op('a1'), op(), op('c3')] })).toEqual({
      [IDEMPOTENCY_BATCH_KEYS_HEADER]: '{"0":"a1","2":"c3"}',
    });
    // One call is still a batch on the wire (`?batch=1`): the server picks its key by batch index 0.
    expect(idempotencyHeaders({ opList: [op('a1')] })).toEqual({ 'Idempotency-Batch-Keys': '{"0":"a1"}' });
    expect(idempotencyHeaders({ opList: [op(), op()] })).toEqual({});
  });
});

describe('keyed mutations in one batch', () => {
  let server: Awaited<ReturnType<typeof startRecordingServer>>;
  beforeAll(async () => {
    server = await startRecordingServer();
  });
  afterAll(async () => {
    await server.close();
  });

  const since = (before: number) => server.arrivals.slice(before);

  it.each([
    ['httpBatchLink', httpBatchLink],
    ['httpBatchStreamLink', httpBatchStreamLink],
  ] as const)('the app keeps its own %s, with headers: idempotencyHeaders', async (name, batchLink) => {
    const client = createTRPCClient<RecordingRouter>({
      links: [idempotencyLink(), batchLink({ url: server.url, transformer: superjson, headers: idempotencyHeaders })],
    });
    const before = server.arrivals.length;
    const requestsBefore = server.requests();

    const results = await Promise.all([
      client.orders.create.mutate({ item: `${name}-a` }, { context: { idempotencyKey: `${name}-key-a` } }),
      client.ping.mutate(undefined, { context: { idempotency: false } }),
      client.orders.create.mutate({ item: `${name}-c` }, { context: { idempotencyKey: `${name}-key-c` } }),
    ]);

    expect(results[1]).toBe('pong');
    expect(server.requests() - requestsBefore).toBe(1);
    const arrived = since(before).sort((one, two) => one.batchIndex - two.batchIndex);
    expect(arrived.map((a) => a.batchIndex)).toEqual([0, 1, 2]);
    expect(arrived.every((a) => a.keyHeader === undefined)).toBe(true);
    // The unkeyed call went down at once; the keyed ones after their keys were settled, so at 1 and 2.
    const index = (item: string) =>
      arrived.find((a) => (a.rawInput as { item?: string } | undefined)?.item === item)!.batchIndex;
    expect(arrived[0]!.batchKeysHeader).toBe(
      JSON.stringify({ [index(`${name}-a`)]: `${name}-key-a`, [index(`${name}-c`)]: `${name}-key-c` }),
    );
    expect(arrived.map(batchKeyOf)).toEqual(
      arrived.map((a) =>
        a.path === 'ping' ? undefined : `${name}-key-${(a.rawInput as { item: string }).item.at(-1)}`,
      ),
    );
  });

  it('createIdempotentClient({ batchKeyed: true }) batches keyed mutations, each under its own key', async () => {
    const events: AttemptEvent[] = [];
    const client = createIdempotentClient<RecordingRouter>({
      url: server.url,
      transformer: superjson,
      batchKeyed: true,
      headers: { 'x-user': 'ann' },
      idempotency: { onAttempt: (event) => events.push(event) },
    });
    const before = server.arrivals.length;
    const requestsBefore = server.requests();

    const [a, b, c, list, unkeyed] = await Promise.all([
      client.orders.create.mutate({ item: 'batched-a' }),
      client.orders.create.mutate({ item: 'batched-b' }),
      client.orders.create.mutate({ item: 'batched-c' }),
      client.orders.list.query(),
      client.ping.mutate(undefined, { context: { idempotency: false } }),
    ]);

    expect([a.item, b.item, c.item, list, unkeyed]).toEqual(['batched-a', 'batched-b', 'batched-c', ['book'], 'pong']);
    // The keyed batch, the queries' batch and the unkeyed mutations' batch.
    expect(server.requests() - requestsBefore).toBe(3);
    const keyed = since(before).filter((arrival) => arrival.path === 'orders.create');
    expect(keyed).toHaveLength(3);
    expect(new Set(keyed.map((arrival) => arrival.request)).size).toBe(1);
    expect(keyed.map((arrival) => arrival.keyHeader)).toEqual([undefined, undefined, undefined]);
    // Each call's key, as its own attempt events name it, is the one the header gives its batch index.
    const started = events.filter((event) => event.outcome === 'started').map((event) => event.key);
    expect(new Set(started).size).toBe(3);
    expect(new Set(keyed.map(batchKeyOf))).toEqual(new Set(started));
    for (const arrival of since(before).filter((arrival) => arrival.path !== 'orders.create')) {
      expect(arrival).toMatchObject({ keyHeader: undefined, batchKeysHeader: undefined });
    }
  });

  it("reads a batch's HTML 503 and its Retry-After for every keyed call in it, through the response probe", async () => {
    const planned: number[] = [];
    const events: AttemptEvent[] = [];
    let gatewayDown = true;
    const client = createIdempotentClient<RecordingRouter>({
      url: server.url,
      transformer: superjson,
      batchKeyed: true,
      fetch: async (url, init) => {
        if (gatewayDown && init?.method === 'POST') {
          gatewayDown = false;
          return new Response('<h1>down</h1>', {
            status: 503,
            headers: { 'retry-after': '7', 'content-type': 'text/html' },
          });
        }
        return fetch(url, init);
      },
      idempotency: { schedule: immediateSchedule(planned), onAttempt: (event) => events.push(event) },
    });

    const [x, y] = await Promise.all([
      client.orders.create.mutate({ item: 'gateway-x' }, { context: { idempotencyKey: 'gateway-x-key' } }),
      client.orders.create.mutate({ item: 'gateway-y' }, { context: { idempotencyKey: 'gateway-y-key' } }),
    ]);

    expect([x.item, y.item]).toEqual(['gateway-x', 'gateway-y']);
    for (const key of ['gateway-x-key', 'gateway-y-key']) {
      expect(events.find((event) => event.key === key && event.outcome === 'retrying')).toMatchObject({
        reason: 'server_error',
        status: 503,
        delayMs: 7000,
      });
    }
    expect(planned).toEqual([7000, 7000]);
  });

  it('times out one call of a batch while the others still wait for their answers', async () => {
    const events: AttemptEvent[] = [];
    const client = createIdempotentClient<RecordingRouter>({
      url: server.url,
      transformer: superjson,
      batchKeyed: true,
      idempotency: { random: () => 0, onAttempt: (event) => events.push(event) },
    });
    const settled: string[] = [];

    const quick = client.orders.create
      .mutate(
        { item: 'timeout-quick', firstSleepMs: 800 },
        { context: { idempotencyKey: 'timeout-quick-key', idempotency: { attemptTimeoutMs: 150 } } },
      )
      .finally(() => settled.push('quick'));
    const slow = client.orders.create
      .mutate({ item: 'timeout-slow', firstSleepMs: 800 }, { context: { idempotencyKey: 'timeout-slow-key' } })
      .finally(() => settled.push('slow'));
    const [retried, waited] = await Promise.all([quick, slow]);

    const retrying = events.find((event) => event.key === 'timeout-quick-key' && event.outcome === 'retrying');
    expect(retrying).toMatchObject({ reason: 'timeout' });
    expect(retrying!.durationMs).toBeLessThan(700);
    // The timed-out call's retry went on its own and got the second run; the batch's other call kept its first.
    expect(retried.run).toBe(2);
    expect(waited.run).toBe(1);
    expect(settled).toEqual(['quick', 'slow']);
  });

  it('the default client still sends each keyed mutation on its own request', async () => {
    const client = createIdempotentClient<RecordingRouter>({ url: server.url, transformer: superjson });
    const before = server.arrivals.length;

    await Promise.all([
      client.orders.create.mutate({ item: 'single-a' }),
      client.orders.create.mutate({ item: 'single-b' }),
    ]);

    const keyed = since(before);
    expect(new Set(keyed.map((arrival) => arrival.request)).size).toBe(2);
    for (const arrival of keyed) {
      expect(arrival.keyHeader).toEqual(expect.any(String));
      expect(arrival.batchKeysHeader).toBeUndefined();
    }
  });

  it('types: idempotencyHeaders is a valid headers option of httpLink and both batch links', () => {
    httpLink({ url: server.url, transformer: superjson, headers: idempotencyHeaders });
    httpBatchLink({ url: server.url, transformer: superjson, headers: idempotencyHeaders });
    httpBatchStreamLink({ url: server.url, transformer: superjson, headers: idempotencyHeaders });
  });
});
