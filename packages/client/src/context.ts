import type { CallIdempotencyOptions } from './options.js';

export type { CallIdempotencyOptions } from './options.js';

declare module '@trpc/client' {
  interface OperationContext {
    /**
     * The key of this call's intent. Pass your own (for example one kept by `createIntent()`), or leave it
     * out and `idempotencyLink` sets one before the first attempt.
     */
    idempotencyKey?: string;
    /** Per-call retry settings, or `false` to send this mutation without a key and without retries. */
    idempotency?: CallIdempotencyOptions | false;
    /**
     * Set by `idempotencyLink` on an attempt after a 409 `IN_PROGRESS`: the seconds that `idempotencyHeaders`
     * asks the server to wait for the outcome, as `Prefer: wait=<seconds>` (docs/protocol.md §4).
     */
    idempotencyPreferWait?: number;
  }
}
