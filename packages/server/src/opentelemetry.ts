import { anything, checkOptions } from '@trpc-idempotency/protocol';
import { type OpenTelemetryOptions, openTelemetryProblem } from './telemetry/openTelemetryApi.js';
import { createServerTelemetry } from './telemetry/serverTelemetry.js';
import type { IdempotencyTelemetry } from './telemetry/types.js';

export type {
  CounterLike,
  HistogramLike,
  MeterLike,
  OpenTelemetryApi,
  OpenTelemetryOptions,
  SpanLike,
  TelemetryAttributes,
  TracerLike,
} from './telemetry/openTelemetryApi.js';

/**
 * Spans and metrics through OpenTelemetry (docs/observability.md), for the `telemetry` option of
 * `createIdempotency`. Pass the `@opentelemetry/api` module you already have: the package never imports it.
 *
 * @example
 * import * as api from '@opentelemetry/api';
 * import { openTelemetry } from '@trpc-idempotency/server/opentelemetry';
 * const idempotency = createIdempotency({ store, scope, telemetry: openTelemetry({ api }) });
 */
export function openTelemetry(options: OpenTelemetryOptions): IdempotencyTelemetry {
  const problem = openTelemetryProblem(options);
  if (problem) throw new TypeError(`openTelemetry(options): options ${problem}.`);
  checkOptions('openTelemetry', options, {
    api: anything,
    tracerProvider: (value) =>
      typeof (value as { getTracer?: unknown } | null)?.getTracer === 'function' ? undefined : 'must have getTracer()',
    meterProvider: (value) =>
      typeof (value as { getMeter?: unknown } | null)?.getMeter === 'function' ? undefined : 'must have getMeter()',
  });
  return { forMiddleware: (store) => createServerTelemetry(options, store) };
}
