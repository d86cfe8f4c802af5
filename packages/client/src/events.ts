import type { TRPCClientError } from '@trpc/client';
import type { AnyRouter } from '@trpc/server/unstable-core-do-not-import';
import type { FailureReason } from './retryPolicy.js';

/** What an attempt came to, as {@link AttemptEvent.outcome} reports it. */
export type AttemptOutcome =
  /** The attempt is about to be sent. */
  | 'started'
  /** It succeeded; `replayed` says whether the server replayed a stored outcome. */
  | 'succeeded'
  /** It failed and another attempt is planned after `delayMs`. */
  | 'retrying'
  /** It failed and nothing more will be tried: not retryable, or the attempts ran out. */
  | 'failed'
  /** The caller aborted, or every caller went away; nothing more will be tried. */
  | 'aborted';

/**
 * One report to `onAttempt`. Every attempt gives a `started` event and then exactly one of the others,
 * so a UI can draw a timeline and a service can log each try with its key.
 */
export interface AttemptEvent {
  /** The intent's key: the same on every attempt. */
  key: string;
  /** The procedure path, for example `orders.create`. */
  path: string;
  /**
   * 1 for the first attempt. Every request counts here, those answered `IN_PROGRESS` too, so it can pass
   * `maxAttempts` while the call waits out another request with its key.
   */
  attempt: number;
  /** Attempts allowed in all, for this call; `IN_PROGRESS` answers do not use them up. */
  maxAttempts: number;
  outcome: AttemptOutcome;
  /** For `retrying`, the planned wait before the next attempt; otherwise 0. */
  delayMs: number;
  /** How long the attempt took, for every outcome but `started`. */
  durationMs?: number;
  /** Why it failed, for `retrying`, `failed` and `aborted`. */
  reason?: FailureReason;
  /** The HTTP status of a failed attempt, when known. */
  status?: number;
  /** The error, for `retrying`, `failed` and `aborted`. */
  error?: TRPCClientError<AnyRouter>;
  /** For `succeeded`: the response carried `Idempotent-Replayed: true`. */
  replayed?: boolean;
}

/** How a successful call went, as `context.idempotency.onResult` and `mutateWithMeta` report it. */
export interface IdempotencyResultMeta {
  /** The intent's key, the one every attempt sent. */
  key: string;
  /** The procedure path, for example `orders.create`. */
  path: string;
  /**
   * The server answered with a stored outcome (`Idempotent-Replayed: true`): an earlier request with this
   * key ran the handler, for example one whose response was lost, or another tab's.
   */
  replayed: boolean;
  /** How many requests the call's attempt sequence sent, the one that succeeded included. */
  attempts: number;
}
