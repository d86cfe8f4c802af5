import type { IdempotencyEvent } from '../events.js';
import type { IdempotencyStore } from '../store/types.js';

/** The telemetry of one call, from the key's check to the call's answer. */
export interface CallTelemetry {
  /** Names the record (its hash) on the span. */
  record(recordKey: string): void;
  /** One step of the call, as `onEvent` gets it. */
  event(event: Omit<IdempotencyEvent, 'path' | 'scope' | 'key'>): void;
  /** Runs the handler inside the call's span, so that its own spans are children of it. */
  inSpan<T>(run: () => T): T;
  /** A lease is held (claimed) or no longer held (settled), for the leases-held gauge. */
  leaseHeld(): void;
  leaseEnded(): void;
  /** The call answered: the span ends and the call is counted by its outcome. */
  end(): void;
}

/** The OpenTelemetry side of one `createIdempotency` middleware. */
export interface ServerTelemetry {
  /** The store, with each call's duration recorded. */
  instrumentStore(store: IdempotencyStore): IdempotencyStore;
  startCall(path: string): CallTelemetry;
}

/**
 * What the `telemetry` option of `createIdempotency` takes: `openTelemetry({ api })` from
 * `@trpc-idempotency/server/opentelemetry` makes one. It lives in its own entry point, so that an app
 * without telemetry loads none of its code.
 */
export interface IdempotencyTelemetry {
  /** The telemetry of one middleware, whose store is `store`. */
  forMiddleware(store: IdempotencyStore): ServerTelemetry;
}

/** Checks the `telemetry` option; the problem, or `undefined` when it fits. */
export function telemetryProblem(value: unknown): string | undefined {
  const forMiddleware = (value as Partial<IdempotencyTelemetry> | null)?.forMiddleware;
  return typeof forMiddleware === 'function'
    ? undefined
    : "must be made by openTelemetry({ api }) from '@trpc-idempotency/server/opentelemetry'";
}
