import type { AddressInfo } from 'node:net';
import {
  createTRPCClient,
  createWSClient,
  httpBatchStreamLink,
  TRPCClientError,
  type TRPCLink,
  wsLink,
} from '@trpc/client';
import { applyWSSHandler } from '@trpc/server/adapters/ws';
import {
  type AttemptEvent,
  createIdempotentClient,
  type IdempotencyLinkOptions,
  idempotencyHeaders,
  idempotencyLink,
} from '@trpc-idempotency/client';
import { IDEMPOTENCY_BATCH_KEYS_HEADER, IDEMPOTENCY_KEY_HEADER } from '@trpc-idempotency/protocol';
import { callerIdempotencyContext, type IdempotencyStore } from '@trpc-idempotency/server';
import superjson from 'superjson';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { buildRouter, createContext, postMutation, type SideEffects, serve, type TestRouter } from '../support/app.js';
import { backends, newKey, type OpenBackend } from '../support/backends.js';

// docs/protocol.md §1b: every transport of the README's table, counted by handler runs, not by answers.

/** The test app's router served over HTTP and over a real WebSocket server, sharing one count of side effects. */
interface TransportApp {
  url: string;
  wsUrl: string;
  router: TestRouter;
  effects: SideEffects;
  runsOf(key: string): number;
  /** Server events for one key, in order: claimed, completed, replayed... */
  eventsOf(key: string): string[];
  /** Connections the WebSocket server accepted. */
  connections(): number;
  /** The next answer to an `orders.create` on a socket is never sent: the server cuts that socket instead. */
  dropNextSocketAnswer(): void;
  close(): Promise<void>;
}

async function startTransportApp(store: IdempotencyStore): Promise<TransportApp> {
  const effects: SideEffects = {
    runs: new Map(),
    orders: [],
    fences: new Map(),
    starts: new Map(),
    aborts: new Map(),
    events: [],
  };
  const router = buildRouter({ store }, effects);
  const http = await serve(router);
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => wss.once('listening', resolve));
  let connections = 0;
  let dropArmed = false;
  // Registered before tRPC's handler, so that this listener sees each socket first.
  wss.on('connection', (socket) => {
    connections += 1;
    // The ids of this socket's orders.create mutations, to know their answers when they go out.
    const ids = new Set<unknown>();
    socket.on('message', (data) => {
      const message = JSON.parse(String(data)) as { id?: unknown; method?: string; params?: { path?: string } };
      if (message.method === 'mutation' && message.params?.path === 'orders.create') ids.add(message.id);
    });
    const send = socket.send.bind(socket) as (data: string) => void;
    // The ws socket is this test's own object; tRPC's handler only calls its send().
    socket.send = ((data: string) => {
      const answer = JSON.parse(data) as { id?: unknown; result?: unknown };
      if (dropArmed && answer.result !== undefined && ids.has(answer.id)) {
        dropArmed = false;
        // The server has run and committed the mutation; the client never hears its answer.
        socket.terminate();
        return;
      }
      send(data);
    }) as typeof socket.send;
  });
  applyWSSHandler({ wss, router, createContext });
  return {
    url: http.url,
    wsUrl: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`,
    router,
    effects,
    runsOf: (key) => effects.runs.get(`ann/${key}`) ?? 0,
    eventsOf: (key) => effects.events.filter((event) => event.key === key).map((event) => event.type),
    connections: () => connections,
    dropNextSocketAnswer: () => {
      dropArmed = true;
    },
    close: async () => {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await http.close();
    },
  };
}

/** One POST the client sent, as its fetch saw it. */
interface SentRequest {
  paths: string[];
  batchKeys: Record<string, string> | undefined;
}

/**
 * A fetch whose first POST reaches the server and is answered in full, and is then lost: the caller gets a
 * network error after the server committed every call of the batch.
 */
function losingFirstAnswer() {
  const sent: SentRequest[] = [];
  let lost = 0;
  const fetchWithLoss: typeof globalThis.fetch = async (input, init) => {
    const url = new URL(String(input instanceof Request ? input.url : input));
    const headers = new Headers(init?.headers);
    const batchKeys = headers.get(IDEMPOTENCY_BATCH_KEYS_HEADER);
    if (init?.method === 'POST') {
      sent.push({
        paths: decodeURIComponent(url.pathname.split('/').pop()!).split(','),
        batchKeys: batchKeys ? JSON.parse(batchKeys) : undefined,
      });
    }
    const response = await fetch(input, init);
    if (init?.method === 'POST' && lost === 0) {
      lost += 1;
      // Read to the end, so every handler of the batch has run and its outcome is stored.
      await response.arrayBuffer();
      throw new TypeError('fetch failed');
    }
    return response;
  };
  return { fetch: fetchWithLoss, sent, lost: () => lost };
}

// Retries on the next macrotask, so no test waits out a backoff.
const immediate: NonNullable<IdempotencyLinkOptions['schedule']> = (run) => {
  const timer = setImmediate(run);
  return () => clearImmediate(timer);
};

type BatchClientFactory = (
  url: string,
  fetch: typeof globalThis.fetch,
  onAttempt: (event: AttemptEvent) => void,
) => ReturnType<typeof createTRPCClient<TestRouter>>;

const batchClients: Array<[string, BatchClientFactory]> = [
  [
    'httpBatchLink (createIdempotentClient({ batchKeyed: true }))',
    (url, fetch, onAttempt) =>
      createIdempotentClient<TestRouter>({
        url,
        transformer: superjson,
        batchKeyed: true,
        headers: { 'x-user': 'ann' },
        fetch,
        idempotency: { schedule: immediate, onAttempt },
      }),
  ],
  [
    'httpBatchStreamLink (idempotencyLink + headers: idempotencyHeaders)',
    (url, fetch, onAttempt) =>
      createTRPCClient<TestRouter>({
        links: [
          idempotencyLink({ schedule: immediate, onAttempt }) as TRPCLink<TestRouter>,
          httpBatchStreamLink({
            url,
            transformer: superjson,
            fetch,
            headers: (opts) => ({ 'x-user': 'ann', ...idempotencyHeaders(opts) }),
          }),
        ],
      }),
  ],
];

describe.each(backends())('transports on $name', (backend) => {
  let open: OpenBackend;
  let app: TransportApp;
  beforeAll(async () => {
    open = await backend.create();
    app = await startTransportApp(open.store);
  });
  afterAll(async () => {
    await app?.close();
    await open?.close();
  });

  describe.each(batchClients)('%s', (_name, makeClient) => {
    it('three keyed mutations in one batch whose answer is lost: each handler ran once, each caller got its own result', async () => {
      const loss = losingFirstAnswer();
      const events: AttemptEvent[] = [];
      const client = makeClient(app.url, loss.fetch, (event) => events.push(event));
      const keys = [newKey('a'), newKey('b'), newKey('c')];
      const items = ['lamp', 'desk', 'chair'];
      const ordersBefore = app.effects.orders.length;

      const send = () =>
        Promise.all(
          keys.map((key, i) =>
            client.orders.create.mutate({ item: items[i]!, qty: i + 1 }, { context: { idempotencyKey: key } }),
          ),
        );
      const results = await send();

      expect(loss.lost()).toBe(1);
      // The lost request was one batch of the three calls, each under its own key.
      expect(loss.sent[0]!.paths).toEqual(['orders.create', 'orders.create', 'orders.create']);
      expect(new Set(Object.values(loss.sent[0]!.batchKeys ?? {}))).toEqual(new Set(keys));
      for (const key of keys) {
        expect(app.runsOf(key)).toBe(1);
        expect(app.eventsOf(key)).toEqual(['claimed', 'completed', 'replayed']);
        expect(events.filter((event) => event.key === key).map((event) => event.outcome)).toEqual([
          'started',
          'retrying',
          'started',
          'succeeded',
        ]);
      }
      expect(app.effects.orders.length - ordersBefore).toBe(3);
      // Each caller got the outcome of its own call: its item, its quantity, its order.
      results.forEach((result, i) => {
        const order = app.effects.orders.find((o) => o.key === keys[i])!;
        expect(result.orderId).toBe(order.id);
        expect(result.tags.get('item')).toBe(items[i]);
        expect(result.totalCents).toBe(BigInt(i + 1) * 1999n);
        expect(result.createdAt).toBeInstanceOf(Date);
      });
      expect(new Set(results.map((result) => result.orderId)).size).toBe(3);

      // The same batch once more, as a client that lost its state would send it: three replays.
      const sentBefore = loss.sent.length;
      const again = await send();
      expect(loss.sent.length - sentBefore).toBe(1);
      expect(loss.sent.at(-1)!.paths).toHaveLength(3);
      expect(again).toEqual(results);
      for (const key of keys) {
        expect(app.runsOf(key)).toBe(1);
        expect(app.eventsOf(key)).toEqual(['claimed', 'completed', 'replayed', 'replayed']);
      }
      expect(app.effects.orders.length - ordersBefore).toBe(3);
    });
  });

  describe('a batch whose keys cannot be told apart', () => {
    const postBatch = async (headers: Record<string, string>, inputs: unknown[]) => {
      const body = Object.fromEntries(inputs.map((input, i) => [String(i), superjson.serialize(input)]));
      const response = await fetch(`${app.url}/${inputs.map(() => 'orders.create').join(',')}?batch=1`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-user': 'ann', ...headers },
        body: JSON.stringify(body),
      });
      const answers = (await response.json()) as Array<{ error?: unknown; result?: unknown }>;
      return {
        status: response.status,
        errors: answers.map((answer) => superjson.deserialize(answer.error as never) as any),
      };
    };

    it.each([
      ['one Idempotency-Key header on a batch of 2', (key: string) => ({ [IDEMPOTENCY_KEY_HEADER]: key }), 2],
      ['one Idempotency-Key header on a batch of 3', (key: string) => ({ [IDEMPOTENCY_KEY_HEADER]: key }), 3],
      [
        'both headers on a batch of 2',
        (key: string) => ({
          [IDEMPOTENCY_KEY_HEADER]: key,
          [IDEMPOTENCY_BATCH_KEYS_HEADER]: JSON.stringify({ 0: key, 1: `${key}-1` }),
        }),
        2,
      ],
      [
        'a batch header that is not an object of keys',
        (key: string) => ({ [IDEMPOTENCY_BATCH_KEYS_HEADER]: JSON.stringify([key, key]) }),
        2,
      ],
    ])('%s gets 400 KEY_INVALID ambiguous for every call, and no handler runs', async (_name, headersFor, calls) => {
      const key = newKey('shared');
      const runsBefore = [...app.effects.runs.values()].reduce((sum, runs) => sum + runs, 0);
      const ordersBefore = app.effects.orders.length;
      const eventsBefore = app.effects.events.length;
      const inputs = Array.from({ length: calls }, (_, i) => ({ item: `ambiguous-${i}` }));

      const answer = await postBatch(headersFor(key), inputs);

      expect(answer.status).toBe(400);
      expect(answer.errors).toHaveLength(calls);
      for (const error of answer.errors) {
        expect(error.data).toMatchObject({
          code: 'BAD_REQUEST',
          httpStatus: 400,
          idempotency: { code: 'KEY_INVALID', reason: 'ambiguous' },
        });
        expect(error.message).toMatch(/cannot be told apart/);
      }
      expect([...app.effects.runs.values()].reduce((sum, runs) => sum + runs, 0)).toBe(runsBefore);
      expect(app.effects.orders.length).toBe(ordersBefore);
      // Refused before any claim: the store never saw the key.
      expect(app.effects.events.length).toBe(eventsBefore);

      // So the key is still unused: sent on its own, with another input, it runs once.
      const alone = await postMutation(
        app.url,
        'orders.create',
        { item: 'alone' },
        {
          'x-user': 'ann',
          [IDEMPOTENCY_KEY_HEADER]: key,
        },
      );
      expect(alone.status).toBe(200);
      expect(app.runsOf(key)).toBe(1);
    });
  });

  describe("wsLink, with idempotencyLink({ keyIn: 'input' })", () => {
    /** ws's client, sending the test app's caller on the upgrade request like a browser's cookie would. */
    const socketWith = (headers: Record<string, string>) =>
      class extends WebSocket {
        constructor(url: string | URL, protocols?: string | string[]) {
          super(url, protocols, { headers });
        }
      };

    it('a socket cut after the server committed, before the answer: the retry on a new socket replays', async () => {
      const events: AttemptEvent[] = [];
      const wsClient = createWSClient({
        url: app.wsUrl,
        WebSocket: socketWith({ 'x-user': 'ann' }) as never,
        retryDelayMs: () => 0,
      });
      const client = createTRPCClient<TestRouter>({
        links: [
          // A backoff longer than wsLink's reconnect, so that the retry finds the new socket open.
          idempotencyLink({
            keyIn: 'input',
            transformer: superjson,
            baseDelayMs: 50,
            jitter: 'none',
            onAttempt: (event) => events.push(event),
          }) as TRPCLink<TestRouter>,
          wsLink<TestRouter>({ client: wsClient, transformer: superjson }),
        ],
      });
      const connectionsBefore = app.connections();
      app.dropNextSocketAnswer();

      try {
        const result = await client.orders.create.mutate({ item: 'socket', qty: 3 });

        const key = events[0]!.key;
        expect(app.runsOf(key)).toBe(1);
        expect(app.eventsOf(key)).toEqual(['claimed', 'completed', 'replayed']);
        expect(app.connections() - connectionsBefore).toBe(2);
        const order = app.effects.orders.find((o) => o.key === key)!;
        expect(result.orderId).toBe(order.id);
        expect(result.totalCents).toBe(5997n);
        expect(result.createdAt).toBeInstanceOf(Date);
        expect(events.map((event) => [event.outcome, event.reason])).toEqual([
          ['started', undefined],
          ['retrying', 'network'],
          ['started', undefined],
          ['succeeded', undefined],
        ]);
        expect(new Set(events.map((event) => event.key))).toEqual(new Set([key]));
      } finally {
        await wsClient.close();
      }
    });

    it('a key header on the upgrade request is refused as KEY_INVALID connection, and nothing runs', async () => {
      const key = newKey('connection');
      const wsClient = createWSClient({
        url: app.wsUrl,
        WebSocket: socketWith({ 'x-user': 'ann', [IDEMPOTENCY_KEY_HEADER]: key }) as never,
      });
      const client = createTRPCClient<TestRouter>({
        links: [wsLink<TestRouter>({ client: wsClient, transformer: superjson })],
      });
      const ordersBefore = app.effects.orders.length;
      try {
        const error = await client.orders.create.mutate({ item: 'connection' }).catch((caught: unknown) => caught);
        expect(error).toBeInstanceOf(TRPCClientError);
        expect((error as TRPCClientError<TestRouter>).data).toMatchObject({
          code: 'BAD_REQUEST',
          idempotency: { code: 'KEY_INVALID', reason: 'connection' },
        });
        expect(app.effects.orders.length).toBe(ordersBefore);
        expect(app.runsOf(key)).toBe(0);
      } finally {
        await wsClient.close();
      }
    });
  });

  describe('a server-side caller with callerIdempotencyContext(key)', () => {
    const callerFor = (key: string | undefined) =>
      app.router.createCaller({ user: 'ann', pass: true, ...callerIdempotencyContext(key) });

    it('runs the handler once for two calls with one key; the second gets the same result', async () => {
      const key = newKey('caller');
      const first = await callerFor(key).orders.create({ item: 'caller', qty: 2 });
      const second = await callerFor(key).orders.create({ item: 'caller', qty: 2 });

      expect(app.runsOf(key)).toBe(1);
      expect(app.eventsOf(key)).toEqual(['claimed', 'completed', 'replayed']);
      expect(second).toEqual(first);
      expect(second.createdAt).toBeInstanceOf(Date);
      expect(second.totalCents).toBe(3998n);
      expect(app.effects.orders.filter((order) => order.key === key)).toHaveLength(1);
    });

    it('refuses another input under the same key with 422 PAYLOAD_MISMATCH, and runs nothing more', async () => {
      const key = newKey('caller');
      await callerFor(key).orders.create({ item: 'first' });

      const error = await callerFor(key)
        .orders.create({ item: 'second' })
        .catch((caught: unknown) => caught);

      expect(error).toMatchObject({ code: 'UNPROCESSABLE_CONTENT', idempotency: { code: 'PAYLOAD_MISMATCH' } });
      expect(app.runsOf(key)).toBe(1);
    });

    it('without a key: a required procedure answers KEY_MISSING (BAD_REQUEST), a required: false one runs', async () => {
      const ordersBefore = app.effects.orders.length;
      const missing = await callerFor(undefined)
        .orders.create({ item: 'unkeyed' })
        .catch((caught: unknown) => caught);
      expect(missing).toMatchObject({ code: 'BAD_REQUEST', idempotency: { code: 'KEY_MISSING' } });
      expect(app.effects.orders.length).toBe(ordersBefore);

      const runsBefore = app.effects.runs.get('ann/(none)') ?? 0;
      expect(await callerFor(undefined).optional.create({ item: 'unkeyed' })).toEqual({
        item: 'unkeyed',
        keyed: false,
      });
      expect(await callerFor(undefined).optional.create({ item: 'unkeyed' })).toEqual({
        item: 'unkeyed',
        keyed: false,
      });
      // No key, no idempotency: each call runs.
      expect((app.effects.runs.get('ann/(none)') ?? 0) - runsBefore).toBe(2);
    });
  });
});
