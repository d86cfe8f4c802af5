import { createIdempotentClient, type IdempotencyLinkOptions, idempotencyHeaders } from '@trpc-idempotency/client';
import superjson from 'superjson';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Arrival, idempotencyRefusal, type RecordingRouter, startRecordingServer } from './recordingServer.js';

/**
 * After a 409 IN_PROGRESS, the next attempt asks the server to wait for the first call's outcome with
 * `Prefer: wait=<seconds>` (docs/protocol.md §4). The recording server answers with the SDK's own errors
 * and records the header each call came with.
 */

// Retries on the next macrotask, so that no test waits out the server's hint on the wall clock.
const schedule: NonNullable<IdempotencyLinkOptions['schedule']> = (run) => {
  const timer = setImmediate(run);
  return () => clearImmediate(timer);
};
const busy = () => idempotencyRefusal('CONFLICT', { code: 'IN_PROGRESS', retryAfterMs: 40 });
const unavailable = () => idempotencyRefusal('SERVICE_UNAVAILABLE', { code: 'STORE_UNAVAILABLE', retryAfterMs: 0 });

describe('Prefer: wait after IN_PROGRESS', () => {
  let server: Awaited<ReturnType<typeof startRecordingServer>>;
  beforeAll(async () => {
    server = await startRecordingServer();
  });
  afterAll(async () => {
    await server.close();
  });
  afterEach(() => {
    server.hooks.refuse = undefined;
  });

  /** Answers each item's calls in turn with `answers` (undefined: run it), then runs every later call. */
  const answerInTurn = (answers: Array<(() => ReturnType<typeof busy>) | undefined>) => {
    const seen = new Map<string, number>();
    server.hooks.refuse = (arrival: Arrival) => {
      const item = (arrival.rawInput as { item?: string } | undefined)?.item ?? '';
      const turn = seen.get(item) ?? 0;
      seen.set(item, turn + 1);
      return answers[turn]?.();
    };
  };
  const client = (idempotency: Omit<IdempotencyLinkOptions, 'transformer'> = {}, batchKeyed = false) =>
    createIdempotentClient<RecordingRouter>({
      url: server.url,
      transformer: superjson,
      batchKeyed,
      idempotency: { schedule, ...idempotency },
    });
  const arrivalsOf = (item: string, since: number) =>
    server.arrivals
      .slice(since)
      .filter((arrival) => (arrival.rawInput as { item?: string } | undefined)?.item === item);

  it('asks for the rest of the wait budget, at most half the attempt timeout, with the same key and input', async () => {
    answerInTurn([busy, busy]);
    const before = server.arrivals.length;

    const order = await client().orders.create.mutate({ item: 'kettle' });

    const arrivals = arrivalsOf('kettle', before);
    // The defaults: 35 s of budget, a 10 s attempt timeout, so 5 s.
    expect(arrivals.map((arrival) => arrival.preferHeader)).toEqual([undefined, 'wait=5', 'wait=5']);
    expect(new Set(arrivals.map((arrival) => arrival.keyHeader)).size).toBe(1);
    expect(arrivals[0]!.keyHeader).toMatch(/.+/);
    expect(arrivals.map((arrival) => arrival.rawInput)).toEqual(Array(3).fill(arrivals[0]!.rawInput));
    expect(order).toMatchObject({ item: 'kettle', run: 1 });
  });

  it('asks for what is left of a short budget, in whole seconds, and nothing under one second', async () => {
    answerInTurn([busy]);
    const before = server.arrivals.length;
    await client({ maxInProgressWaitMs: 2500 }).orders.create.mutate({ item: 'teapot' });
    expect(arrivalsOf('teapot', before).map((arrival) => arrival.preferHeader)).toEqual([undefined, 'wait=2']);

    answerInTurn([busy]);
    const later = server.arrivals.length;
    // Half of a 1.5 s attempt timeout is under a second: the server could not answer in time, so nothing is asked.
    await client({ attemptTimeoutMs: 1500 }).orders.create.mutate({ item: 'mug' });
    expect(arrivalsOf('mug', later).map((arrival) => arrival.preferHeader)).toEqual([undefined, undefined]);
  });

  it('asks only on the attempt right after an IN_PROGRESS, never after another failure', async () => {
    answerInTurn([unavailable, busy, unavailable]);
    const before = server.arrivals.length;

    await client({ jitter: 'none' }).orders.create.mutate({ item: 'lamp' });

    const prefers = arrivalsOf('lamp', before).map((arrival) => arrival.preferHeader);
    expect(prefers).toEqual([undefined, undefined, 'wait=5', undefined]);
  });

  it('asks in a batch whose keyed calls all wait, with the shortest wait', async () => {
    answerInTurn([busy, busy]);
    const before = server.arrivals.length;
    const batched = client({}, true);

    const orders = await Promise.all([
      batched.orders.create.mutate({ item: 'cup' }),
      batched.orders.create.mutate({ item: 'cup' }, { context: { idempotency: { maxInProgressWaitMs: 3500 } } }),
    ]);

    const arrivals = server.arrivals.slice(before);
    expect(arrivals.map((arrival) => [arrival.request - arrivals[0]!.request, arrival.preferHeader])).toEqual([
      [0, undefined],
      [0, undefined],
      [1, 'wait=3'],
      [1, 'wait=3'],
    ]);
    expect(orders.map((order) => order.item)).toEqual(['cup', 'cup']);
  });
});

describe('idempotencyHeaders and the wait an attempt asks for', () => {
  const op = (key: string | undefined, wait?: number) => ({
    context: {
      ...(key === undefined ? {} : { idempotencyKey: key }),
      ...(wait === undefined ? {} : { idempotencyPreferWait: wait }),
    },
  });

  it('sends Prefer: wait with the key of one operation, and never without a key or a whole second', () => {
    expect(idempotencyHeaders(op('a1', 4))).toEqual({ 'Idempotency-Key': 'a1', Prefer: 'wait=4' });
    expect(idempotencyHeaders({ op: op('a1', 4) })).toEqual({ 'Idempotency-Key': 'a1', Prefer: 'wait=4' });
    expect(idempotencyHeaders(op(undefined, 4))).toEqual({});
    expect(idempotencyHeaders(op('a1', 0.5))).toEqual({ 'Idempotency-Key': 'a1' });
  });

  it('sends it for a batch only when every keyed call asks, so that no answer waits for another call', () => {
    expect(idempotencyHeaders({ opList: [op('a1', 4), op(undefined), op('c3', 2)] })).toEqual({
      'Idempotency-Batch-Keys': '{"0":"a1","2":"c3"}',
      Prefer: 'wait=2',
    });
    expect(idempotencyHeaders({ opList: [op('a1', 4), op('b2')] })).toEqual({
      'Idempotency-Batch-Keys': '{"0":"a1","1":"b2"}',
    });
  });
});
