/** The longest key the protocol accepts (docs/protocol.md §1). */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;

/** The outcome of reading an `Idempotency-Key` header value. */
export type ParsedIdempotencyKey =
  | { ok: true; key: string }
  | { ok: false; code: 'KEY_MISSING'; message: string }
  | { ok: false; code: 'KEY_INVALID'; reason: 'format' | 'conflicting'; message: string };

const VISIBLE_ASCII = /^[\x21-\x7e]+$/;

/** Tells whether a key keeps the format rule: 1 to 255 characters of visible ASCII (0x21 to 0x7E). */
export function isValidIdempotencyKey(key: string): boolean {
  return key.length >= 1 && key.length <= MAX_IDEMPOTENCY_KEY_LENGTH && VISIBLE_ASCII.test(key);
}

/**
 * Reads a key from the raw header values, accepting the structured-field string form (`"abc"`).
 * Several values that disagree are invalid, since the server could not know which intent was meant.
 */
export function parseIdempotencyKey(
  ...values: ReadonlyArray<string | readonly string[] | null | undefined>
): ParsedIdempotencyKey {
  // One pass over the values, with no intermediate arrays or sets: it runs on every keyed request.
  let key: string | undefined;
  let conflicting = false;
  const see = (value: unknown) => {
    if (typeof value !== 'string') return;
    const unquoted = unquoteStructuredString(value);
    if (key === undefined) key = unquoted;
    else if (key !== unquoted) conflicting = true;
  };
  for (const value of values) {
    if (Array.isArray(value)) for (const item of value) see(item);
    else see(value);
  }
  if (key === undefined) {
    return { ok: false, code: 'KEY_MISSING', message: 'This mutation needs an Idempotency-Key header.' };
  }
  if (conflicting) {
    return {
      ok: false,
      code: 'KEY_INVALID',
      reason: 'conflicting',
      message: 'The request carries more than one different idempotency key.',
    };
  }
  if (!isValidIdempotencyKey(key)) {
    return {
      ok: false,
      code: 'KEY_INVALID',
      reason: 'format',
      message: `An idempotency key must be 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} characters of visible ASCII (0x21 to 0x7E).`,
    };
  }
  return { ok: true, key };
}

function unquoteStructuredString(value: string): string {
  return value.length >= 2 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value;
}
