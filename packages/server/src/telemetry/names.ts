/*
 * The server's OpenTelemetry names, as docs/observability.md lists them. A raw idempotency key or scope
 * is never an attribute value or a metric label: `RECORD` is the record's SHA-256 name, which correlates
 * every attempt of one intent across processes without telling what the key or the scope was.
 */

/** The instrumentation scope: the tracer's and the meter's name. */
export const INSTRUMENTATION_NAME = '@trpc-idempotency/server';

export const SPAN_NAME_PREFIX = 'trpc.idempotency';

export const ATTR = {
  /** How the call ended: one of {@link CALL_OUTCOMES}. */
  OUTCOME: 'trpc.idempotency.outcome',
  FENCE: 'trpc.idempotency.fence',
  /** `memory`, `redis`, `redis-cluster`, `redis-sentinel`, or a custom store's `kind`. */
  STORE: 'trpc.idempotency.store',
  RECORD: 'trpc.idempotency.record',
  RETRY_AFTER_MS: 'trpc.idempotency.retry_after_ms',
  WAITED_MS: 'trpc.idempotency.waited_ms',
  HANDLER_BEGAN: 'trpc.idempotency.handler_began',
  BYTES: 'trpc.idempotency.bytes',
  STORE_OPERATION: 'trpc.idempotency.store.operation',
  RPC_SYSTEM: 'rpc.system',
  RPC_METHOD: 'rpc.method',
  ERROR_TYPE: 'error.type',
} as const;

export const METRIC = {
  /** Counter: one per idempotent call, by outcome. */
  CALLS: 'trpc.idempotency.calls',
  /** Histogram, seconds: one per store call, by operation. */
  STORE_DURATION: 'trpc.idempotency.store.duration',
  /** UpDownCounter: leases this process holds now, from the claim to their completion or release. */
  LEASES_HELD: 'trpc.idempotency.leases.held',
  /** Gauges, for a bounded store in this process (MemoryStore): the bytes its records take, and its bound. */
  STORE_USAGE: 'trpc.idempotency.store.usage',
  STORE_LIMIT: 'trpc.idempotency.store.limit',
  /** Gauge: the records such a store holds. */
  STORE_RECORDS: 'trpc.idempotency.store.records',
} as const;

/**
 * How an idempotent call ended, from its span's `trpc.idempotency.outcome` and the calls counter. A claimed
 * call ends as `completed`, `released`, `lease_lost` or `store_error` (its claim is the span event `claimed`);
 * `claimed` is the outcome only of a call whose handler threw past tRPC, leaving its lease unsettled.
 */
export const CALL_OUTCOMES = [
  'claimed',
  'replayed',
  'waited',
  'conflict',
  'mismatch',
  'completed',
  'released',
  'lease_lost',
  'store_error',
  'store_full',
  'draining',
  'input_too_large',
] as const;

/** One of {@link CALL_OUTCOMES}. */
export type CallOutcome = (typeof CALL_OUTCOMES)[number];

/** Store call latencies, in seconds: a Redis call on one host takes well under a millisecond. */
export const STORE_DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
