import type { IdempotencyResultMeta } from './events.js';
import type { RetrySettings } from './options.js';

/** What a call may put under `context.idempotency` to change how its mutation is retried and to learn how it ended. */
export interface CallIdempotencyOptions extends RetrySettings {
  /**
   * Called once when this call succeeds, with its key, its number of attempts and whether the server
   * replayed a stored outcome. Every caller of a shared attempt sequence gets its own call. A throwing
   * hook never changes the outcome. `mutateWithMeta` is the typed way to use it: tRPC types the context
   * of `mutate()` as a plain record, so this hook's parameter needs its type written out.
   *
   * @example
   * await client.orders.create.mutate(cart, {
   *   context: { idempotencyKey, idempotency: { onResult: (meta: IdempotencyResultMeta) => meta.replayed && showInfo('Already placed.') } },
   * });
   */
  onResult?: (meta: IdempotencyResultMeta) => void;
}

declare module '@trpc/client' {
  interface OperationContext {
    /**
     * The key of this call's intent. Pass your own (for example one kept by `createIntent()`), or leave it
     * out and `idempotencyLink` sets one before the first attempt.
     */
    idempotencyKey?: string;
    /** Per-call retry settings, or `false` to send this mutation without a key and without retries. */
    idempotency?: CallIdempotencyOptions | false;
  }
}
