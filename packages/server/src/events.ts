/** The moments the middleware reports to `onEvent`. */
export type IdempotencyEventType =
  | 'claimed'
  | 'replayed'
  | 'conflict'
  | 'mismatch'
  | 'completed'
  | 'released'
  | 'leaseLost'
  | 'storeError';

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
  /** How long the caller was told to wait, for `conflict`. */
  retryAfterMs?: number;
  /** What went wrong, for `storeError` and `leaseLost`. */
  error?: unknown;
  /**
   * For `completed` and `released`: whether tRPC started the handler. A call that ended before it did
   * (its input failed validation, or a later middleware refused) is released and its key stays unused.
   */
  handlerBegan?: boolean;
}
