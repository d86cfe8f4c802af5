/**
 * The field of the envelope that carries a key inside an operation's input, for transports without
 * per-operation headers (WebSocket) (docs/protocol.md §1b).
 */
export const IDEMPOTENCY_ENVELOPE_FIELD = '~idempotency';

/** An operation's input with its key: `{ "~idempotency": { key }, input }`. */
export interface IdempotencyEnvelope {
  [IDEMPOTENCY_ENVELOPE_FIELD]: { key: string };
  input?: unknown;
}

/** Wraps an operation's input with its key; the server's middleware unwraps it before the input parsers. */
export function wrapInEnvelope(key: string, input: unknown): IdempotencyEnvelope {
  return input === undefined
    ? { [IDEMPOTENCY_ENVELOPE_FIELD]: { key } }
    : { [IDEMPOTENCY_ENVELOPE_FIELD]: { key }, input };
}

/**
 * Reads an envelope: an object whose own keys are the envelope field and, optionally, `input`, and
 * whose field is an object with a `key`. The key is returned as it came, for the format check of
 * docs/protocol.md §1; `undefined` when the value is not an envelope.
 */
export function readEnvelope(value: unknown): { key: unknown; input: unknown } | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  if (Object.getPrototypeOf(value) !== Object.prototype && Object.getPrototypeOf(value) !== null) return undefined;
  const field = (value as Record<string, unknown>)[IDEMPOTENCY_ENVELOPE_FIELD];
  if (typeof field !== 'object' || field === null || !Object.hasOwn(value, IDEMPOTENCY_ENVELOPE_FIELD))
    return undefined;
  for (const name of Object.keys(value)) {
    if (name !== IDEMPOTENCY_ENVELOPE_FIELD && name !== 'input') return undefined;
  }
  return { key: (field as { key?: unknown }).key, input: (value as { input?: unknown }).input };
}
