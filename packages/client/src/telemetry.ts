import type { AttemptEvent } from './events.js';

/** The span of one keyed call: its attempts become events, and it ends with the call. */
export interface CallSpan {
  attempt(event: AttemptEvent): void;
  end(): void;
}

/**
 * What the link's `telemetry` option takes: `openTelemetry({ api })` from
 * `@trpc-idempotency/client/opentelemetry` makes one. It lives in its own entry point, so that an app without
 * telemetry loads none of its code.
 */
export interface ClientTelemetry {
  /** Starts the span of one keyed call of `path`. */
  startCall(path: string): CallSpan;
}

/** Checks the option; the problem, or `undefined` when it fits. */
export function clientTelemetryProblem(value: unknown): string | undefined {
  return typeof (value as Partial<ClientTelemetry> | null)?.startCall === 'function'
    ? undefined
    : "must be made by openTelemetry({ api }) from '@trpc-idempotency/client/opentelemetry'";
}
