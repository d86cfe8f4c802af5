/** The soonest a duplicate is asked to come back, so a burst of duplicates does not hammer the store. */
const MIN_RETRY_AFTER_MS = 100;
/** The longest a duplicate is asked to wait between two looks, so a long handler's answer is not held back. */
const MAX_RETRY_AFTER_MS = 2000;

/**
 * When a duplicate that met a live lease should ask again (`retryAfterMs` of `IN_PROGRESS`,
 * docs/protocol.md §3): after about half as long as the first call has run so far, between 100 ms and
 * 2 s, and never after the lease's end, when a retry may take over from a holder that died. A duplicate
 * of a fast handler is answered soon; one of a slow handler asks a few times, not hundreds.
 *
 * @example
 * inProgressRetryAfterMs({ leaseRemainingMs: 29_000, heldForMs: 1000 }) // 500
 */
export function inProgressRetryAfterMs(lease: { leaseRemainingMs: number; heldForMs: number }): number {
  const hint = Math.min(MAX_RETRY_AFTER_MS, Math.max(MIN_RETRY_AFTER_MS, Math.ceil(lease.heldForMs / 2)));
  return Math.max(1, Math.min(hint, Math.ceil(lease.leaseRemainingMs)));
}
