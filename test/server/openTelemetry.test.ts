import { randomUUID } from 'node:crypto';
import * as api from '@opentelemetry/api';
import { initTRPC } from '@trpc/server';
import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import {
  createIdempotency,
  fetchIdempotencyContext,
  type IdempotencyStore,
  idempotencyErrorFormatter,
  MemoryStore,
  RedisStore,
  StoreUnavailableError,
} from '@trpc-idempotency/server';
import { openTelemetry } from '@trpc-idempotency/server/opentelemetry';
import { Cluster, Redis } from 'ioredis';
import superjson from 'superjson';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { postMutation, type RawAnswer, startTestApp, type TestApp } from '../support/app.js';
import { backends, type OpenBackend } from '../support/backends.js';
import { everyExportedString, pointsOf, startOpenTelemetry, sumOf } from '../support/otel.js';

const INTENTS = 20;
const CALLERS = 5;
const SPAN = 'trpc.idempotency orders.create';
/** A scope and keys that must never show up in anything exported. */
const SECRET_SCOPE = `scope-secret-${randomUUID()}`;

const outcomeOf = (answer: RawAnswer) => {
  if (answer.status === 200) return answer.headers.get('idempotent-replayed') === 'true' ? 'replayed' : 'completed';
  return { 409: 'conflict', 422: 'mismatch', 503: 'store_error', 413: 'input_too_large' }[answer.status] ?? 'other';
};

describe.each(backends().filter((b) => b.name !== 'Redis Cluster'))('OpenTelemetry on $name', (backend) => {
  let otel: ReturnType<typeof startOpenTelemetry>;
  let open: OpenBackend;
  let app: TestApp;

  beforeAll(async () => {
    otel = startOpenTelemetry();
    open = await backend.create();
    app = await startTestApp({ store: open.store, telemetry: openTelemetry(otel.options) });
  });
  afterAll(async () => {
    await app?.close();
    await open?.close();
    await otel?.shutdown();
  });

  it('gives a storm one span per call, counters that add up to the calls made, and no raw key or scope anywhere', async () => {
    const keys = Array.from({ length: INTENTS }, () => `raw-key-${randomUUID()}`);
    const headers = (key: string) => ({ 'idempotency-key': key, 'x-user': SECRET_SCOPE });
    // Every intent 5 times at once (one runs, the others meet its lease or its outcome), then once with another input.
    const storm = await Promise.all(
      keys.flatMap((key) =>
        Array.from({ length: CALLERS }, () =>
          postMutation(app.url, 'orders.create', { item: 'mug', sleepMs: 50 }, headers(key)),
        ),
      ),
    );
    const mismatches = await Promise.all(
      keys.map((key) => postMutation(app.url, 'orders.create', { item: 'other' }, headers(key))),
    );
    const answers = [...storm, ...mismatches];
    const expected: Record<string, number> = {};
    for (const answer of answers) expected[outcomeOf(answer)] = (expected[outcomeOf(answer)] ?? 0) + 1;
    expect(expected.completed).toBe(INTENTS);
    expect(expected.mismatch).toBe(INTENTS);

    const spans = otel.spans().filter((span) => span.name === SPAN);
    const metrics = await otel.collect();

    // One span per call, each with its outcome, the store and the record's hash.
    expect(spans).toHaveLength(answers.length);
    const spanOutcomes: Record<string, number> = {};
    for (const span of spans) {
      const outcome = String(span.attributes['trpc.idempotency.outcome']);
      spanOutcomes[outcome] = (spanOutcomes[outcome] ?? 0) + 1;
      expect(span.attributes).toMatchObject({
        'rpc.system': 'trpc',
        'rpc.method': 'orders.create',
        'trpc.idempotency.store': open.store.kind,
        'trpc.idempotency.record': expect.stringMatching(/^[0-9a-f]{64}$/),
      });
    }
    expect(spanOutcomes).toEqual(expected);
    const completed = spans.filter((span) => span.attributes['trpc.idempotency.outcome'] === 'completed');
    for (const span of completed) {
      expect(span.attributes['trpc.idempotency.fence']).toBe(1);
      expect(span.events.map((event) => event.name)).toEqual(['claimed', 'completed']);
    }
    // The attempts of one intent share the record's hash, so they can be found together.
    expect(new Set(spans.map((span) => span.attributes['trpc.idempotency.record'])).size).toBe(INTENTS);

    // The calls counter adds up to the calls made, outcome by outcome.
    expect(sumOf(metrics, 'trpc.idempotency.calls')).toBe(answers.length);
    for (const [outcome, count] of Object.entries(expected)) {
      expect(sumOf(metrics, 'trpc.idempotency.calls', { 'trpc.idempotency.outcome': outcome })).toBe(count);
    }
    // Every lease claimed was settled: none is held any more.
    expect(pointsOf(metrics, 'trpc.idempotency.leases.held').map((point) => point.value)).toEqual([0]);
    // A bounded store in this process reports its size and bound; the others have none to report.
    const usage = (open.store as { usage?: () => { records: number; bytes: number; maxBytes: number } }).usage?.();
    if (usage) {
      expect(pointsOf(metrics, 'trpc.idempotency.store.records').map((point) => point.value)).toEqual([usage.records]);
      expect(usage.records).toBe(INTENTS);
      expect(pointsOf(metrics, 'trpc.idempotency.store.usage').map((point) => point.value)).toEqual([usage.bytes]);
      expect(pointsOf(metrics, 'trpc.idempotency.store.limit').map((point) => point.value)).toEqual([usage.maxBytes]);
    } else {
      expect(pointsOf(metrics, 'trpc.idempotency.store.limit')).toEqual([]);
    }
    // One claim per call and one completion per intent, each timed.
    expect(sumOf(metrics, 'trpc.idempotency.store.duration', { 'trpc.idempotency.store.operation': 'claim' })).toBe(
      answers.length,
    );
    expect(sumOf(metrics, 'trpc.idempotency.store.duration', { 'trpc.idempotency.store.operation': 'complete' })).toBe(
      INTENTS,
    );

    // Nothing exported carries a raw key or the scope.
    const exported = everyExportedString(spans, metrics);
    expect(exported.length).toBeGreaterThan(answers.length);
    const leaks = exported.filter(
      (value) =>
        value.includes(SECRET_SCOPE) || keys.some((key) => value.includes(key) || value.includes(key.slice(8))),
    );
    expect(leaks).toEqual([]);
  });
});

describe('OpenTelemetry: the other outcomes, and the handler inside the span', () => {
  let otel: ReturnType<typeof startOpenTelemetry>;
  beforeAll(() => {
    otel = startOpenTelemetry();
  });
  afterAll(() => otel?.shutdown());

  it('reports store_error, input_too_large, waited and draining, and a store error in the latency histogram', async () => {
    const down: IdempotencyStore = {
      kind: 'flaky',
      // A fake only for the fault: a store that cannot be reached.
      claim: async () => {
        throw new StoreUnavailableError('down');
      },
      complete: async () => true,
      release: async () => true,
      renewLease: async () => true,
    };
    const store = new MemoryStore();
    const [broken, waiting] = await Promise.all([
      startTestApp({ store: down, telemetry: openTelemetry(otel.options) }),
      startTestApp({
        store,
        telemetry: openTelemetry(otel.options),
        inProgress: { waitMs: 5000 },
        maxInputBytes: 2048,
      }),
    ]);
    try {
      const headers = { 'idempotency-key': `k-${randomUUID()}`, 'x-user': SECRET_SCOPE };
      expect((await postMutation(broken.url, 'orders.create', { item: 'a' }, headers)).status).toBe(503);
      const big = await postMutation(waiting.url, 'orders.create', { item: 'x'.repeat(4096) }, headers);
      expect(big.status).toBe(413);
      const [first, second] = await Promise.all([
        postMutation(waiting.url, 'orders.create', { item: 'b', sleepMs: 200 }, headers),
        new Promise((resolve) => setTimeout(resolve, 50)).then(() =>
          postMutation(waiting.url, 'orders.create', { item: 'b', sleepMs: 200 }, headers),
        ),
      ]);
      expect([first.status, second.headers.get('idempotent-replayed')]).toEqual([200, 'true']);
      await waiting.drain({ timeoutMs: 1000 });
      expect((await postMutation(waiting.url, 'orders.create', { item: 'c' }, headers)).status).toBe(503);

      const outcomes = otel
        .spans()
        .filter((span) => span.name === SPAN)
        .map((span) => span.attributes['trpc.idempotency.outcome']);
      expect(outcomes).toEqual(['store_error', 'input_too_large', 'completed', 'waited', 'draining']);
      const failed = otel.spans().find((span) => span.attributes['trpc.idempotency.outcome'] === 'store_error')!;
      expect(failed.status).toEqual({ code: api.SpanStatusCode.ERROR, message: 'StoreUnavailableError' });
      expect(failed.attributes['trpc.idempotency.store']).toBe('flaky');
      const metrics = await otel.collect();
      expect(
        sumOf(metrics, 'trpc.idempotency.store.duration', {
          'trpc.idempotency.store': 'flaky',
          'error.type': 'StoreUnavailableError',
        }),
      ).toBe(1);
      expect(everyExportedString(otel.spans(), metrics).filter((value) => value.includes(SECRET_SCOPE))).toEqual([]);
    } finally {
      await Promise.all([broken.close(), waiting.close()]);
    }
  });

  it("makes the idempotency span the parent of the handler's own spans", async () => {
    const createContext = (opts: Parameters<typeof fetchIdempotencyContext>[0]) => fetchIdempotencyContext(opts);
    const t = initTRPC.context<ReturnType<typeof createContext>>().create({
      transformer: superjson,
      errorFormatter: idempotencyErrorFormatter,
    });
    const tracer = otel.tracerProvider.getTracer('app');
    const router = t.router({
      pay: t.procedure
        .use(
          createIdempotency({
            store: new MemoryStore(),
            scope: 'global',
            serializer: superjson,
            telemetry: openTelemetry(otel.options),
          }),
        )
        .input(z.object({ cents: z.number() }))
        .mutation(({ input }) =>
          tracer.startActiveSpan('db.insert', (span) => {
            span.end();
            return { paid: input.cents };
          }),
        ),
    });
    const response = await fetchRequestHandler({
      endpoint: '/trpc',
      router,
      createContext,
      req: new Request('http://localhost/trpc/pay', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': randomUUID() },
        body: JSON.stringify(superjson.serialize({ cents: 5 })),
      }),
    });
    expect(response.status).toBe(200);
    const spans = otel.spans();
    const outer = spans.find((span) => span.name === 'trpc.idempotency pay')!;
    const inner = spans.find((span) => span.name === 'db.insert')!;
    expect(inner.parentSpanContext?.spanId).toBe(outer.spanContext().spanId);
    expect(inner.spanContext().traceId).toBe(outer.spanContext().traceId);
  });
});

describe('without the telemetry option', () => {
  let open: OpenBackend;
  beforeAll(async () => {
    open = await backends()[0]!.create();
  });
  afterAll(() => open?.close());

  it('names the kind of each store for trpc.idempotency.store, from the ioredis client it was given', () => {
    // Never connected: the kind is read from the client's type and options alone.
    const lazy = { lazyConnect: true } as const;
    const clients = [
      new Redis(lazy),
      new Cluster([{ host: '127.0.0.1', port: 1 }], lazy),
      new Redis({ sentinels: [{ host: '127.0.0.1', port: 1 }], name: 'primary', ...lazy }),
    ];
    expect([new MemoryStore().kind, ...clients.map((redis) => new RedisStore({ redis }).kind)]).toEqual([
      'memory',
      'redis',
      'redis-cluster',
      'redis-sentinel',
    ]);
    for (const client of clients) client.disconnect();
  });

  it('refuses an option that is not the API, naming it', () => {
    expect(() => openTelemetry({} as never)).toThrow(/openTelemetry\(options\): options must be \{ api \}/);
    expect(() =>
      createIdempotency({ store: open.store, scope: 'global', serializer: 'json', telemetry: {} as never }),
    ).toThrow(/option "telemetry" must be made by openTelemetry\(\{ api \}\)/);
  });
});
