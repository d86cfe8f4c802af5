import { anything, checkOptions } from '@trpc-idempotency/protocol';
import type { CallSpan, ClientTelemetry } from './telemetry.js';

/*
 * The client's OpenTelemetry side (docs/observability.md): one span per keyed call, with one event per
 * attempt. The package never imports `@opentelemetry/api`: the app passes the module it has, and these
 * few structural types are all the client needs of it, so nothing breaks where it is not installed.
 */

type Attributes = Record<string, string | number | boolean>;

/** The part of an OpenTelemetry `Span` used here. */
export interface ClientSpanLike {
  setAttribute(key: string, value: string | number | boolean): unknown;
  addEvent(name: string, attributes?: Attributes): unknown;
  setStatus(status: { code: number; message?: string }): unknown;
  end(): void;
}

/** The part of an OpenTelemetry `Tracer` used here. */
export interface ClientTracerLike {
  startSpan(name: string, options?: { kind?: number; attributes?: Attributes }, context?: any): ClientSpanLike;
}

/** What {@link openTelemetry} takes: `{ api }`, with the `@opentelemetry/api` module. */
export interface ClientOpenTelemetryOptions {
  /** `import * as api from '@opentelemetry/api'`. */
  api: { trace: { getTracer(name: string, version?: string): ClientTracerLike }; context: { active(): any } };
  /** Where spans go. Default: the global tracer provider (`api.trace`). */
  tracerProvider?: { getTracer(name: string, version?: string): ClientTracerLike };
}

const INSTRUMENTATION_NAME = '@trpc-idempotency/client';
const SPAN_KIND_INTERNAL = 0;
const SPAN_STATUS_ERROR = 2;

/**
 * Starts the span of one keyed call, as a child of whatever span is active when the call starts. Its events
 * carry the attempt number, outcome, planned delay, reason and status: never the key or the input.
 */
function startCallSpan(options: ClientOpenTelemetryOptions, path: string): CallSpan {
  const tracer = (options.tracerProvider ?? options.api.trace).getTracer(INSTRUMENTATION_NAME);
  const span = tracer.startSpan(
    `trpc.idempotency.call ${path}`,
    { kind: SPAN_KIND_INTERNAL, attributes: { 'rpc.system': 'trpc', 'rpc.method': path } },
    options.api.context.active(),
  );
  let attempts = 0;
  let ended = false;
  return {
    attempt(event) {
      if (ended || event.outcome === 'started') return;
      attempts = event.attempt;
      const attributes: Attributes = {
        'trpc.idempotency.attempt': event.attempt,
        'trpc.idempotency.attempt.outcome': event.outcome,
        'trpc.idempotency.attempt.delay_ms': event.delayMs,
      };
      if (event.durationMs !== undefined) attributes['trpc.idempotency.attempt.duration_ms'] = event.durationMs;
      if (event.reason !== undefined) attributes['trpc.idempotency.attempt.reason'] = event.reason;
      if (event.status !== undefined) attributes['http.response.status_code'] = event.status;
      if (event.replayed !== undefined) attributes['trpc.idempotency.replayed'] = event.replayed;
      span.addEvent('trpc.idempotency.attempt', attributes);
      if (event.outcome === 'retrying') return;
      span.setAttribute('trpc.idempotency.outcome', event.outcome);
      if (event.replayed !== undefined) span.setAttribute('trpc.idempotency.replayed', event.replayed);
      if (event.outcome !== 'succeeded') {
        span.setStatus({ code: SPAN_STATUS_ERROR, message: event.reason ?? event.outcome });
        if (event.reason !== undefined) span.setAttribute('error.type', event.reason);
      }
    },
    end() {
      if (ended) return;
      ended = true;
      span.setAttribute('trpc.idempotency.attempts', attempts);
      span.end();
    },
  };
}

/**
 * One span per keyed call, with an event per attempt (docs/observability.md), for the link's `telemetry`
 * option. Pass the `@opentelemetry/api` module you already have: the package never imports it.
 *
 * @example
 * import * as api from '@opentelemetry/api';
 * import { openTelemetry } from '@trpc-idempotency/client/opentelemetry';
 * createIdempotentClient<AppRouter>({ url, idempotency: { telemetry: openTelemetry({ api }) } });
 */
export function openTelemetry(options: ClientOpenTelemetryOptions): ClientTelemetry {
  const api = (options as Partial<ClientOpenTelemetryOptions> | null)?.api;
  if (typeof api?.trace?.getTracer !== 'function' || typeof api.context?.active !== 'function') {
    throw new TypeError(
      "openTelemetry(options): options must be { api } with the @opentelemetry/api module (import * as api from '@opentelemetry/api').",
    );
  }
  checkOptions('openTelemetry', options, {
    api: anything,
    tracerProvider: (value: unknown) =>
      typeof (value as { getTracer?: unknown } | null)?.getTracer === 'function' ? undefined : 'must have getTracer()',
    // The server's options may be shared with the client's: its meter provider is accepted, and unused here.
    meterProvider: anything,
  } as never);
  return { startCall: (path) => startCallSpan(options, path) };
}
