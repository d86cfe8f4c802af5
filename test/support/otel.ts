import * as api from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  AggregationTemporality,
  type DataPoint,
  type Histogram,
  InMemoryMetricExporter,
  MeterProvider,
  type MetricData,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';

let contextManagerSet = false;

/**
 * The OpenTelemetry SDK with in-memory exporters, for one test file: spans as they end, metrics on
 * `collect()`. Context goes through AsyncLocalStorage, as an app's SDK setup would register it.
 */
export function startOpenTelemetry() {
  if (!contextManagerSet) {
    api.context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    contextManagerSet = true;
  }
  const spanExporter = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spanExporter)] });
  const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 3_600_000 });
  const meterProvider = new MeterProvider({ readers: [reader] });
  return {
    options: { api, tracerProvider, meterProvider },
    tracerProvider,
    spans: (): ReadableSpan[] => spanExporter.getFinishedSpans(),
    /** Exports the metrics now and returns the latest export's metrics. */
    async collect(): Promise<MetricData[]> {
      metricExporter.reset();
      await reader.forceFlush();
      return metricExporter.getMetrics().flatMap((resource) => resource.scopeMetrics.flatMap((scope) => scope.metrics));
    },
    async shutdown() {
      await Promise.all([tracerProvider.shutdown(), meterProvider.shutdown()]);
    },
  };
}

/** The data points of one metric, by name. */
export function pointsOf(metrics: MetricData[], name: string): Array<DataPoint<number | Histogram>> {
  return metrics.filter((metric) => metric.descriptor.name === name).flatMap((metric) => metric.dataPoints as any);
}

/** Sums a counter's points, optionally only those whose attributes match. */
export function sumOf(metrics: MetricData[], name: string, match: Record<string, unknown> = {}): number {
  return pointsOf(metrics, name)
    .filter((point) => Object.entries(match).every(([key, value]) => point.attributes[key] === value))
    .reduce((sum, point) => sum + (typeof point.value === 'number' ? point.value : point.value.count), 0);
}

/**
 * Every string an exporter would send for these spans and metrics: names, attribute values, event names
 * and attributes, status messages, data point attributes. The scan for raw keys and scopes reads these.
 */
export function everyExportedString(spans: ReadableSpan[], metrics: MetricData[]): string[] {
  const strings: string[] = [];
  const add = (value: unknown) => {
    if (value === undefined || value === null) return;
    if (Array.isArray(value)) {
      for (const inner of value) add(inner);
    } else if (typeof value === 'object') {
      for (const [key, inner] of Object.entries(value)) {
        strings.push(key);
        add(inner);
      }
    } else strings.push(String(value));
  };
  for (const span of spans) {
    add([span.name, span.attributes, span.status.message, span.links]);
    for (const event of span.events) add([event.name, event.attributes]);
  }
  for (const metric of metrics) {
    add([metric.descriptor.name, metric.descriptor.description]);
    for (const point of metric.dataPoints) add(point.attributes);
  }
  return strings;
}
