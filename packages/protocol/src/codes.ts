/**
 * The machine-readable reasons the idempotency layer itself rejects a call (docs/protocol.md §3).
 * They travel in `error.data.idempotency.code`, which is how a client tells the SDK's
 * `CONFLICT` apart from an application's own.
 */
export const IDEMPOTENCY_ERROR_CODES = [
  'KEY_MISSING',
  'KEY_INVALID',
  'IN_PROGRESS',
  'PAYLOAD_MISMATCH',
  'STORE_UNAVAILABLE',
  'STORE_FULL',
  'INPUT_TOO_LARGE',
  'OUTCOME_TOO_LARGE',
  'SERVER_DRAINING',
] as const;

/** One of {@link IDEMPOTENCY_ERROR_CODES}. */
export type IdempotencyErrorCode = (typeof IDEMPOTENCY_ERROR_CODES)[number];

/** The tRPC error code and HTTP status that docs/protocol.md §3 assigns to each idempotency error. */
export const IDEMPOTENCY_ERROR_TRPC_CODES = {
  KEY_MISSING: { trpcCode: 'BAD_REQUEST', httpStatus: 400 },
  KEY_INVALID: { trpcCode: 'BAD_REQUEST', httpStatus: 400 },
  IN_PROGRESS: { trpcCode: 'CONFLICT', httpStatus: 409 },
  PAYLOAD_MISMATCH: { trpcCode: 'UNPROCESSABLE_CONTENT', httpStatus: 422 },
  STORE_UNAVAILABLE: { trpcCode: 'SERVICE_UNAVAILABLE', httpStatus: 503 },
  // A bounded store at its bound: nothing is evicted to make room, so new intents wait for retention to free space.
  STORE_FULL: { trpcCode: 'SERVICE_UNAVAILABLE', httpStatus: 503 },
  INPUT_TOO_LARGE: { trpcCode: 'PAYLOAD_TOO_LARGE', httpStatus: 413 },
  // The handler ran; its outcome was too large to keep, so this error is stored and replayed in its place.
  OUTCOME_TOO_LARGE: { trpcCode: 'INTERNAL_SERVER_ERROR', httpStatus: 500 },
  SERVER_DRAINING: { trpcCode: 'SERVICE_UNAVAILABLE', httpStatus: 503 },
} as const satisfies Record<IdempotencyErrorCode, { trpcCode: string; httpStatus: number }>;

/**
 * Why a key was refused as `KEY_INVALID` (docs/protocol.md §1): `format` breaks the character rule,
 * `conflicting` is a request with two different keys, `ambiguous` is a batch whose keys cannot be told
 * apart (one key for several calls, a malformed batch keys header, or a tRPC without `batchIndex`),
 * `connection` is a key on a WebSocket's connection request (it would name every mutation of the
 * connection), and with server-issued keys `not_issued` is not a key the server issued, `signature` fails
 * its signature (forged, or issued to another scope) and `expired` is past its expiry.
 */
export const KEY_INVALID_REASONS = [
  'format',
  'conflicting',
  'ambiguous',
  'connection',
  'not_issued',
  'signature',
  'expired',
] as const;

/** One of {@link KEY_INVALID_REASONS}. */
export type KeyInvalidReason = (typeof KEY_INVALID_REASONS)[number];

/** What the server's error formatter puts into `error.data.idempotency`. */
export interface IdempotencyErrorData {
  code: IdempotencyErrorCode;
  /** How long to wait before retrying, for `IN_PROGRESS`, `STORE_UNAVAILABLE`, `STORE_FULL` and `SERVER_DRAINING`. */
  retryAfterMs?: number;
  /** Why the key was refused, for `KEY_INVALID`. */
  reason?: KeyInvalidReason;
}

/** Tells whether a value is one of the protocol's idempotency error codes. */
export function isIdempotencyErrorCode(value: unknown): value is IdempotencyErrorCode {
  return typeof value === 'string' && (IDEMPOTENCY_ERROR_CODES as readonly string[]).includes(value);
}

/** Reads `idempotency` out of a tRPC `error.data`, or returns `undefined` when the error is not the SDK's. */
export function readIdempotencyErrorData(data: unknown): IdempotencyErrorData | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const idempotency = (data as { idempotency?: unknown }).idempotency;
  if (typeof idempotency !== 'object' || idempotency === null) return undefined;
  const { code, retryAfterMs, reason } = idempotency as { code?: unknown; retryAfterMs?: unknown; reason?: unknown };
  if (!isIdempotencyErrorCode(code)) return undefined;
  const read: IdempotencyErrorData = { code };
  if (typeof retryAfterMs === 'number' && Number.isFinite(retryAfterMs)) read.retryAfterMs = retryAfterMs;
  if ((KEY_INVALID_REASONS as readonly unknown[]).includes(reason)) read.reason = reason as KeyInvalidReason;
  return read;
}
