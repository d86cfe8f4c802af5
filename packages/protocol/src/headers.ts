/** The request header that carries an idempotency key (docs/protocol.md §1). */
export const IDEMPOTENCY_KEY_HEADER = 'Idempotency-Key';

/** The older spelling of the key header, accepted by the server for clients that still send it. */
export const LEGACY_IDEMPOTENCY_KEY_HEADER = 'X-Idempotency-Key';

/** The response header that marks an answer as a replay of a stored outcome. */
export const IDEMPOTENT_REPLAYED_HEADER = 'Idempotent-Replayed';
