/*
 * The few parts of `@opentelemetry/api` that the server uses, written out so that the package needs
 * neither to import it nor to have it installed: the app passes the API object it already has
 * (`import * as api from '@opentelemetry/api'`), and the real one fits these types as it is.
 */

/** Attribute values as OpenTelemetry takes them. */
export type TelemetryAttributes = Record<string, string | number | boolean>;

/** The part of an OpenTelemetry `Span` used here. */
export interface SpanLike {
  setAttribute(key: string, value: string | number | boolean): unknown;
  addEvent(name: string, attributes?: TelemetryAttributes): unknown;
  setStatus(status: { code: number; message?: string }): unknown;
  end(): void;
}

/** The part of an OpenTelemetry `Tracer` used here. */
export interface TracerLike {
  startSpan(name: string, options?: { kind?: number; attributes?: TelemetryAttributes }, context?: any): SpanLike;
}

/** The part of an OpenTelemetry `Meter` used here. */
export interface MeterLike {
  createCounter(name: string, options?: { description?: string; unit?: string }): CounterLike;
  createUpDownCounter(name: string, options?: { description?: string; unit?: string }): CounterLike;
  createHistogram(
    name: string,
    options?: { description?: string; unit?: string; advice?: { explicitBucketBoundaries?: number[] } },
  ): HistogramLike;
  /** In `@opentelemetry/api` since 1.0; a meter without it gets no store usage gauges. */
  createObservableGauge?(name: string, options?: { description?: string; unit?: string }): ObservableGaugeLike;
}

/** An OpenTelemetry `ObservableGauge`: read by its callbacks when metrics are collected. */
export interface ObservableGaugeLike {
  addCallback(callback: (result: { observe(value: number, attributes?: TelemetryAttributes): void }) => void): void;
}

/** An OpenTelemetry `Counter` or `UpDownCounter`. */
export interface CounterLike {
  add(value: number, attributes?: TelemetryAttributes): void;
}

/** An OpenTelemetry `Histogram`. */
export interface HistogramLike {
  record(value: number, attributes?: TelemetryAttributes): void;
}

/** The part of the `@opentelemetry/api` module used here: pass the module itself. */
export interface OpenTelemetryApi {
  trace: {
    getTracer(name: string, version?: string): TracerLike;
    setSpan(context: any, span: SpanLike): any;
  };
  context: {
    active(): any;
    with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
      context: any,
      fn: F,
      thisArg?: ThisParameterType<F>,
      ...args: A
    ): ReturnType<F>;
  };
  metrics: {
    getMeter(name: string, version?: string): MeterLike;
  };
}

/** The `openTelemetry` option of `createIdempotency`. */
export interface OpenTelemetryOptions {
  /** The `@opentelemetry/api` module: `import * as api from '@opentelemetry/api'`. */
  api: OpenTelemetryApi;
  /** Where spans go. Default: the global tracer provider (`api.trace`), as the OpenTelemetry SDK registers it. */
  tracerProvider?: { getTracer(name: string, version?: string): TracerLike };
  /** Where metrics go. Default: the global meter provider (`api.metrics`). */
  meterProvider?: { getMeter(name: string, version?: string): MeterLike };
}

/** OpenTelemetry's `SpanKind.INTERNAL` and `SpanStatusCode.ERROR`, fixed by the specification. */
export const SPAN_KIND_INTERNAL = 0;
export const SPAN_STATUS_ERROR = 2;

/** Checks the `openTelemetry` option; the problem, or `undefined` when it fits. */
export function openTelemetryProblem(value: unknown): string | undefined {
  const options = value as Partial<OpenTelemetryOptions> | null;
  const api = options?.api as Partial<OpenTelemetryApi> | undefined;
  if (
    typeof options !== 'object' ||
    options === null ||
    typeof api?.trace?.getTracer !== 'function' ||
    typeof api.metrics?.getMeter !== 'function' ||
    typeof api.context?.with !== 'function'
  ) {
    return "must be { api } with the @opentelemetry/api module (import * as api from '@opentelemetry/api')";
  }
  return undefined;
}
