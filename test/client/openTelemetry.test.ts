import * as api from '@opentelemetry/api';
import { openTelemetry } from '@trpc-idempotency/client/opentelemetry';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClientRig, recordingSchedule, startClientRig } from '../support/clientHarness.js';
import { trpcErrorBody } from '../support/faultProxy.js';
import { everyExportedString, startOpenTelemetry } from '../support/otel.js';

describe('client OpenTelemetry: a span per keyed call, an event per attempt', () => {
  let rig: ClientRig;
  let otel: ReturnType<typeof startOpenTelemetry>;
  beforeAll(async () => {
    otel = startOpenTelemetry();
    rig = await startClientRig();
  });
  afterAll(async () => {
    await rig.close();
    await otel.shutdown();
  });

  it('records each attempt with its outcome, delay and status, under the span active at the call', async () => {
    const { schedule } = recordingSchedule();
    const client = rig.client({ idempotency: { telemetry: openTelemetry(otel.options), schedule, random: () => 0.5 } });
    rig.proxy.plan(
      { kind: 'answer', status: 503, body: trpcErrorBody(503, 'SERVICE_UNAVAILABLE') },
      { kind: 'reset-after-forward' },
    );
    const parent = otel.tracerProvider.getTracer('app').startSpan('checkout');
    const order = await api.context.with(api.trace.setSpan(api.context.active(), parent), () =>
      client.orders.create.mutate({ item: 'kettle' }),
    );
    parent.end();
    const key = rig.events.at(-1)!.key;

    const span = otel.spans().find((s) => s.name === 'trpc.idempotency.call orders.create')!;
    expect(span.parentSpanContext?.spanId).toBe(parent.spanContext().spanId);
    expect(span.attributes).toMatchObject({
      'rpc.system': 'trpc',
      'rpc.method': 'orders.create',
      'trpc.idempotency.outcome': 'succeeded',
      'trpc.idempotency.replayed': true,
      'trpc.idempotency.attempts': 3,
    });
    const attempts = span.events.map((event) => event.attributes);
    expect(attempts).toEqual([
      expect.objectContaining({
        'trpc.idempotency.attempt': 1,
        'trpc.idempotency.attempt.outcome': 'retrying',
        'trpc.idempotency.attempt.reason': 'server_error',
        'http.response.status_code': 503,
        'trpc.idempotency.attempt.delay_ms': expect.any(Number),
      }),
      expect.objectContaining({
        'trpc.idempotency.attempt': 2,
        'trpc.idempotency.attempt.outcome': 'retrying',
        'trpc.idempotency.attempt.reason': 'network',
      }),
      expect.objectContaining({
        'trpc.idempotency.attempt': 3,
        'trpc.idempotency.attempt.outcome': 'succeeded',
        'trpc.idempotency.replayed': true,
        'trpc.idempotency.attempt.delay_ms': 0,
      }),
    ]);
    // The delays on the span are the ones the link planned.
    const planned = rig.events.filter((e) => e.key === key && e.outcome === 'retrying').map((e) => e.delayMs);
    expect(attempts.slice(0, 2).map((a) => a?.['trpc.idempotency.attempt.delay_ms'])).toEqual(planned);
    expect(rig.app.runsOf('ann', key)).toBe(1);
    expect(order.fence).toBe(1);
    expect(everyExportedString(otel.spans(), []).filter((value) => value.includes(key))).toEqual([]);
  });

  it('marks a call that failed for good as an error, with its reason', async () => {
    const client = rig.client({ idempotency: { telemetry: openTelemetry(otel.options) } });
    await client.orders.fail.mutate({ mode: 'bad_request' }).catch(() => {});
    const span = otel
      .spans()
      .filter((s) => s.name === 'trpc.idempotency.call orders.fail')
      .at(-1)!;
    expect(span.status).toEqual({ code: api.SpanStatusCode.ERROR, message: 'client_error' });
    expect(span.attributes).toMatchObject({ 'trpc.idempotency.outcome': 'failed', 'error.type': 'client_error' });
  });

  it('refuses a telemetry option that openTelemetry() did not make, and an openTelemetry() without the API', () => {
    expect(() => rig.client({ idempotency: { telemetry: { api: {} } as never } })).toThrow(
      /option "telemetry" must be made by openTelemetry\(\{ api \}\)/,
    );
    expect(() => openTelemetry({ api: {} } as never)).toThrow(/options must be \{ api \}/);
  });
});
