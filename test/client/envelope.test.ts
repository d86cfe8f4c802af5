import { createTRPCClient, createWSClient, httpLink, wsLink } from '@trpc/client';
import { type AttemptEvent, deriveIdempotencyKey, idempotencyLink } from '@trpc-idempotency/client';
import { IDEMPOTENCY_ENVELOPE_FIELD } from '@trpc-idempotency/protocol';
import superjson from 'superjson';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Arrival,
  type RecordingRouter,
  startRecordingServer,
  startRecordingSocketServer,
} from './recordingServer.js';

const at = new Date(Date.UTC(2026, 10, 22, 6, 0, 0));
const itemOf = (arrival: Arrival) => {
  const raw = arrival.rawInput as { item?: string; input?: { item?: string } } | undefined;
  return raw?.input?.item ?? raw?.item;
};

describe("keyIn: 'input' over HTTP", () => {
  let server: Awaited<ReturnType<typeof startRecordingServer>>;
  beforeAll(async () => {
    server = await startRecordingServer();
  });
  afterAll(async () => {
    await server.close();
  });

  const arrivalsOf = (item: string) => server.arrivals.filter((arrival) => itemOf(arrival) === item);
  const client = (options: Parameters<typeof idempotencyLink>[0] = {}, fetch?: typeof globalThis.fetch) =>
    createTRPCClient<RecordingRouter>({
      links: [
        idempotencyLink({ keyIn: 'input', transformer: superjson, ...options }),
        // No headers at all: the key has to travel in the input.
        httpLink({ url: server.url, transformer: superjson, ...(fetch ? { fetch } : {}) }),
      ],
    });

  it('sends the input in the envelope, serialized by the transformer, and gives the caller the output as usual', async () => {
    const result = await client().orders.create.mutate({ item: 'wrapped', at }, { context: { idempotencyKey: 'k-1' } });

    expect(result).toEqual({ item: 'wrapped', at, run: 1 });
    const [arrival] = arrivalsOf('wrapped');
    expect(arrival).toMatchObject({ keyHeader: undefined, batchKeysHeader: undefined, envelopeKey: 'k-1' });
    // superjson carried the Date inside the envelope.
    expect(arrival!.rawInput).toEqual({ [IDEMPOTENCY_ENVELOPE_FIELD]: { key: 'k-1' }, input: { item: 'wrapped', at } });
    expect((arrival!.rawInput as { input: { at: unknown } }).input.at).toBeInstanceOf(Date);
  });

  it('wraps every attempt with the same key around the same input', async () => {
    let first = true;
    const events: AttemptEvent[] = [];
    // The first answer is lost after the server got the request.
    const losing: typeof globalThis.fetch = async (url, init) => {
      const response = await fetch(url, init);
      if (first && init?.method === 'POST') {
        first = false;
        throw new TypeError('fetch failed');
      }
      return response;
    };

    const result = await client(
      { random: () => 0, onAttempt: (event) => events.push(event) },
      losing,
    ).orders.create.mutate({ item: 'retried', at });

    const arrivals = arrivalsOf('retried');
    expect(arrivals).toHaveLength(2);
    expect(arrivals[0]!.envelopeKey).toEqual(expect.any(String));
    expect(arrivals[1]!.rawInput).toEqual(arrivals[0]!.rawInput);
    expect(events.map((event) => event.outcome)).toEqual(['started', 'retrying', 'started', 'succeeded']);
    expect(events[0]!.key).toBe(arrivals[0]!.envelopeKey);
    expect(result.item).toBe('retried');
  });

  it('derives the key from the input as given, and shares one attempt sequence between equal calls in flight', async () => {
    const linked = client({ key: 'derive', user: 'ann' });
    const input = { item: 'derived', at };

    const [one, two] = await Promise.all([
      linked.orders.create.mutate(input),
      linked.orders.create.mutate({ ...input }),
    ]);

    expect(one).toEqual(two);
    const arrivals = arrivalsOf('derived');
    expect(arrivals).toHaveLength(1);
    const expected = await deriveIdempotencyKey({
      user: 'ann',
      path: 'orders.create',
      serializedInput: superjson.serialize(input),
    });
    expect(arrivals[0]!.envelopeKey).toBe(expected);
  });

  it('leaves the input property out for a mutation without input', async () => {
    const before = server.arrivals.length;

    expect(await client().ping.mutate(undefined, { context: { idempotencyKey: 'k-ping' } })).toBe('pong');

    const [arrival] = server.arrivals.slice(before);
    expect(arrival!.rawInput).toEqual({ [IDEMPOTENCY_ENVELOPE_FIELD]: { key: 'k-ping' } });
    expect(Object.keys(arrival!.rawInput as object)).toEqual([IDEMPOTENCY_ENVELOPE_FIELD]);
  });

  it('never wraps queries, filtered-out mutations or context.idempotency: false', async () => {
    const linked = client({ filter: (op) => op.path !== 'ping' });
    const before = server.arrivals.length;

    await linked.orders.list.query();
    await linked.ping.mutate();
    await linked.orders.create.mutate({ item: 'plain' }, { context: { idempotency: false } });

    expect(server.arrivals.slice(before).map((arrival) => arrival.rawInput)).toEqual([
      undefined,
      undefined,
      { item: 'plain' },
    ]);
  });

  it('refuses a FormData input, which no envelope can hold, before anything is sent', async () => {
    const before = server.arrivals.length;
    const form = new FormData();
    form.set('item', 'form');

    await expect(client().orders.create.mutate(form as never)).rejects.toThrow(/keyIn: 'input' cannot wrap/);
    expect(server.arrivals.length).toBe(before);
  });
});

describe("keyIn: 'input' over wsLink", () => {
  it('retries a mutation whose socket closed before its answer, with the same key, once wsLink has reconnected', async () => {
    const server = startRecordingSocketServer();
    // The socket drops after the first run of the handler, before its answer goes out.
    server.hooks.afterRun = () => {
      if (server.connections() === 1) server.drop();
    };
    const events: AttemptEvent[] = [];
    const wsClient = createWSClient({ url: 'ws://recording.test', WebSocket: server.WebSocket, retryDelayMs: () => 0 });
    const client = createTRPCClient<RecordingRouter>({
      links: [
        // A backoff longer than wsLink's reconnect delay, so that the retry finds the new socket open.
        idempotencyLink({ keyIn: 'input', baseDelayMs: 50, jitter: 'none', onAttempt: (event) => events.push(event) }),
        wsLink({ client: wsClient, transformer: superjson }),
      ],
    });

    try {
      const result = await client.orders.create.mutate({ item: 'socket', at });

      const arrivals = server.arrivals.filter((arrival) => arrival.path === 'orders.create');
      expect(arrivals.map((arrival) => arrival.request)).toEqual([1, 2]);
      expect(arrivals[0]!.envelopeKey).toEqual(expect.any(String));
      expect(arrivals[1]!.rawInput).toEqual(arrivals[0]!.rawInput);
      expect(arrivals[1]!.rawInput).toEqual({
        [IDEMPOTENCY_ENVELOPE_FIELD]: { key: arrivals[0]!.envelopeKey },
        input: { item: 'socket', at },
      });
      // No server SDK here to replay the first outcome: the second run answered.
      expect(result).toEqual({ item: 'socket', at, run: 2 });
      expect(events.map((event) => [event.outcome, event.reason])).toEqual([
        ['started', undefined],
        ['retrying', 'network'],
        ['started', undefined],
        ['succeeded', undefined],
      ]);
      expect(events[1]!.error?.data).toBeUndefined();
    } finally {
      await wsClient.close();
    }
  });
});
