import type { IdempotencyEvent } from '../events.js';
import type { IdempotencyStore } from '../store/types.js';
import {
  ATTR,
  type CallOutcome,
  INSTRUMENTATION_NAME,
  METRIC,
  SPAN_NAME_PREFIX,
  STORE_DURATION_BUCKETS,
} from './names.js';
import {
  type CounterLike,
  type HistogramLike,
  type MeterLike,
  type OpenTelemetryApi,
  type OpenTelemetryOptions,
  SPAN_KIND_INTERNAL,
  SPAN_STATUS_ERROR,
  type SpanLike,
  type TelemetryAttributes,
  type TracerLike,
} from './openTelemetryApi.js';
import type { CallTelemetry, ServerTelemetry } from './types.js';

const STORE_OPERATIONS = { claim: 'claim', complete: 'complete', release: 'release', renewLease: 'renew_lease' };

/** The kind of a store, for the `trpc.idempotency.store` attribute: its `kind`, or its class's name. */
export function storeKind(store: IdempotencyStore): string {
  if (typeof store.kind === 'string' && store.kind !== '') return store.kind;
  const name = (store as { constructor?: { name?: string } }).constructor?.name;
  return name && name !== 'Object' ? name : 'custom';
}

/**
 * Builds the spans and metrics of docs/observability.md for one middleware. Nothing here ever reads the
 * raw key or scope: the events it gets have them stripped, and the record is named by its hash.
 */
export function createServerTelemetry(options: OpenTelemetryOptions, store: IdempotencyStore): ServerTelemetry {
  const { api } = options;
  const tracer: TracerLike = (options.tracerProvider ?? api.trace).getTracer(INSTRUMENTATION_NAME);
  const meter = (options.meterProvider ?? api.metrics).getMeter(INSTRUMENTATION_NAME);
  const kind = storeKind(store);
  const calls: CounterLike = meter.createCounter(METRIC.CALLS, {
    description: 'Idempotent calls, by how they ended.',
    unit: '{call}',
  });
  const storeDuration: HistogramLike = meter.createHistogram(METRIC.STORE_DURATION, {
    description: 'Duration of idempotency store calls.',
    unit: 's',
    advice: { explicitBucketBoundaries: STORE_DURATION_BUCKETS },
  });
  const leasesHeld: CounterLike = meter.createUpDownCounter(METRIC.LEASES_HELD, {
    description: 'Idempotency leases this process holds now.',
    unit: '{lease}',
  });

  observeUsage(meter, store, kind);

  return {
    instrumentStore: (inner) => instrumentStore(inner, storeDuration, kind),
    startCall: (path) => startCall(api, tracer, { calls, leasesHeld }, kind, path),
  };
}

/** Reports a bounded store's size and bound (MemoryStore's `usage()`), when it has them. */
function observeUsage(meter: MeterLike, store: IdempotencyStore, kind: string): void {
  const usage = (store as { usage?: () => { records: number; bytes: number; maxBytes: number } }).usage;
  if (typeof usage !== 'function' || typeof meter.createObservableGauge !== 'function') return;
  const read = () => usage.call(store);
  const attributes = { [ATTR.STORE]: kind };
  const gauges = [
    [METRIC.STORE_USAGE, 'Bytes the records of this bounded store take.', 'By', () => read().bytes],
    [METRIC.STORE_LIMIT, 'The bound of this store: at it, new keys get 503 STORE_FULL.', 'By', () => read().maxBytes],
    [METRIC.STORE_RECORDS, 'Records this bounded store holds.', '{record}', () => read().records],
  ] as const;
  for (const [name, description, unit, value] of gauges) {
    meter
      .createObservableGauge(name, { description, unit })
      .addCallback((result) => result.observe(value(), attributes));
  }
}

function instrumentStore(inner: IdempotencyStore, histogram: HistogramLike, kind: string): IdempotencyStore {
  const timed = new Map<PropertyKey, unknown>();
  for (const [method, operation] of Object.entries(STORE_OPERATIONS)) {
    const call = (inner as unknown as Record<string, (request: unknown) => Promise<unknown>>)[method]!.bind(inner);
    timed.set(method, async (request: unknown) => {
      const startedAt = performance.now();
      const attributes: TelemetryAttributes = { [ATTR.STORE_OPERATION]: operation, [ATTR.STORE]: kind };
      try {
        return await call(request);
      } catch (error) {
        attributes[ATTR.ERROR_TYPE] = errorType(error);
        throw error;
      } finally {
        histogram.record((performance.now() - startedAt) / 1000, attributes);
      }
    });
  }
  // Anything else a store offers (a store of issue 11's kind may add methods) passes through, bound to the store.
  return new Proxy(inner, {
    get(target, property) {
      if (timed.has(property)) return timed.get(property);
      const value = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

function startCall(
  api: OpenTelemetryApi,
  tracer: TracerLike,
  metrics: { calls: CounterLike; leasesHeld: CounterLike },
  kind: string,
  path: string,
): CallTelemetry {
  const base: TelemetryAttributes = { [ATTR.RPC_SYSTEM]: 'trpc', [ATTR.RPC_METHOD]: path, [ATTR.STORE]: kind };
  const parent = api.context.active();
  const span: SpanLike = tracer.startSpan(
    `${SPAN_NAME_PREFIX} ${path}`,
    { kind: SPAN_KIND_INTERNAL, attributes: base },
    parent,
  );
  let outcome: CallOutcome | undefined;
  let ended = false;
  let holding = false;
  const fail = (error: unknown) => {
    span.setStatus({ code: SPAN_STATUS_ERROR, message: errorType(error) });
    span.setAttribute(ATTR.ERROR_TYPE, errorType(error));
  };

  return {
    record(recordKey) {
      span.setAttribute(ATTR.RECORD, recordKey.replace(/[{}]/g, ''));
    },
    event(event) {
      if (ended) return;
      const attributes: TelemetryAttributes = {};
      if (event.fence !== undefined) attributes[ATTR.FENCE] = event.fence;
      if (event.retryAfterMs !== undefined) attributes[ATTR.RETRY_AFTER_MS] = event.retryAfterMs;
      if (event.waitedMs !== undefined) attributes[ATTR.WAITED_MS] = event.waitedMs;
      if (event.handlerBegan !== undefined) attributes[ATTR.HANDLER_BEGAN] = event.handlerBegan;
      if (event.bytes !== undefined) attributes[ATTR.BYTES] = event.bytes;
      const name = OUTCOME_OF_EVENT[event.type];
      span.addEvent(name, attributes);
      if (event.type === 'claimed' && event.fence !== undefined) span.setAttribute(ATTR.FENCE, event.fence);
      if (event.type === 'outcomeTooLarge') return;
      // The last step decides: claimed, then completed / released / lease_lost / store_error.
      outcome = event.type === 'replayed' && event.waitedMs !== undefined ? 'waited' : (name as CallOutcome);
      if (event.type === 'storeError' || event.type === 'leaseLost') fail(event.error);
    },
    inSpan(run) {
      return api.context.with(api.trace.setSpan(parent, span), run);
    },
    leaseHeld() {
      holding = true;
      metrics.leasesHeld.add(1, { [ATTR.STORE]: kind });
    },
    leaseEnded() {
      if (!holding) return;
      holding = false;
      metrics.leasesHeld.add(-1, { [ATTR.STORE]: kind });
    },
    end() {
      if (ended) return;
      ended = true;
      if (outcome) {
        span.setAttribute(ATTR.OUTCOME, outcome);
        metrics.calls.add(1, { ...base, [ATTR.OUTCOME]: outcome });
      }
      span.end();
    },
  };
}

const OUTCOME_OF_EVENT: Record<IdempotencyEvent['type'], string> = {
  claimed: 'claimed',
  replayed: 'replayed',
  conflict: 'conflict',
  mismatch: 'mismatch',
  completed: 'completed',
  released: 'released',
  leaseLost: 'lease_lost',
  storeError: 'store_error',
  storeFull: 'store_full',
  draining: 'draining',
  inputTooLarge: 'input_too_large',
  outcomeTooLarge: 'outcome_too_large',
};

/** A short, key-free name for an error: its class name (`StoreUnavailableError`, `LeaseLostError`). */
function errorType(error: unknown): string {
  if (error instanceof Error) return error.name;
  return typeof error === 'string' ? 'Error' : '_OTHER';
}
