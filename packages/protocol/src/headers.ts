/** The request header that carries an idempotency key (docs/protocol.md §1). */
export const IDEMPOTENCY_KEY_HEADER = 'Idempotency-Key';

/** The older spelling of the key header, accepted by the server for clients that still send it. */
export const LEGACY_IDEMPOTENCY_KEY_HEADER = 'X-Idempotency-Key';

/** The response header that marks an answer as a replay of a stored outcome. */
export const IDEMPOTENT_REPLAYED_HEADER = 'Idempotent-Replayed';

/**
 * The request header of RFC 7240 preferences. `Prefer: wait=<seconds>` asks the server to wait that long for
 * the outcome of a call with the same key that is still running, rather than answer 409 `IN_PROGRESS` at once
 * (docs/protocol.md §3).
 */
export const PREFER_HEADER = 'Prefer';

/** The response header by which a server says which preferences it honoured: `Preference-Applied: wait=<seconds>`. */
export const PREFERENCE_APPLIED_HEADER = 'Preference-Applied';
