/**
 * The moments the middleware reports to `onEvent`. `draining`: refused with 503 `SERVER_DRAINING` during a
 * drain; `storeFull`: refused with 503 `STORE_FULL` by a store at its bound; `inputTooLarge`: refused with 413 before the claim; `outcomeTooLarge`: the handler's outcome was over
 * `maxOutcomeBytes` (then `completed` with `OUTCOME_TOO_LARGE` stored, or `released`, follows).
 */
export type IdempotencyEventType =
  | 'claimed'
  | 'replayed'
  | 'conflict'
  | 'mismatch'
  | 'completed'
  | 'released'
  | 'leaseLost'
  | 'storeError'
  | 'storeFull'
  | 'draining'
  | 'inputTooLarge'
  | 'outcomeTooLarge';

/** One report to `onEvent`, for logs and metrics. */
export interface IdempotencyEvent {
  type: IdempotencyEventType;
  /** The procedure path, such as `payments.create`. */
  path: string;
  /** Whose key it is, as the `scope` option returned it. */
  scope: string;
  /** The client's idempotency key. */
  key: string;
  /** The fence of this holder's claim, once claimed. */
  fence?: number;
  /** How long the caller was told to wait, for `conflict`, `storeFull` and `draining`. */
  retryAfterMs?: number;
  /**
   * When the server waited for another holder (its `inProgress` option, or the request's `Prefer: wait`,
   * docs/protocol.md §3): how long it waited before this answer, for
   * `replayed` (then the outcome is that holder's), `claimed` (it gave its lease up) and `conflict`.
   */
  waitedMs?: number;
  /** The size in bytes, for `inputTooLarge` and `outcomeTooLarge`. */
  bytes?: number;
  /** What went wrong, for `storeError` and `leaseLost`. */
  error?: unknown;
  /**
   * For `completed` and `released`: whether tRPC started the handler. A call that ended before it did
   * (its input failed validation, or a later middleware refused) is released and its key stays unused.
   */
  handlerBegan?: boolean;
}
