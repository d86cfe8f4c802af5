import {
  type IdempotencyErrorCode,
  type IdempotencyErrorData,
  readIdempotencyErrorData,
} from '@trpc-idempotency/protocol';

/** Why an attempt failed, in the words of docs/protocol.md §4. */
export type FailureReason =
  /** Fetch rejected, the connection was reset, or the body was not a tRPC answer: the outcome is unknown. */
  | 'network'
  /** The attempt ran past `attemptTimeoutMs`; the link aborted it. */
  | 'timeout'
  /** The caller's own abort signal fired. */
  | 'aborted'
  /** Another request holds the key's lease (409 `IN_PROGRESS`). */
  | 'in_progress'
  /** The server's idempotency store is down (503 `STORE_UNAVAILABLE`). */
  | 'store_unavailable'
  /** 429 Too Many Requests. */
  | 'rate_limited'
  /** Any other 5xx. */
  | 'server_error'
  /** The key was used before with a different input (422 `PAYLOAD_MISMATCH`). */
  | 'payload_mismatch'
  /** The key was missing or broke the format rule (400 `KEY_MISSING` / `KEY_INVALID`). */
  | 'key_rejected'
  /** Any other 4xx, including the app's own `CONFLICT`. */
  | 'client_error'
  /** The attempt failed while the network was gone; the next one waits for it and is not counted. */
  | 'offline';

/** What the retry policy decided about one failed attempt. */
export interface FailureVerdict {
  reason: FailureReason;
  retryable: boolean;
  /** The HTTP status, when one is known. */
  status?: number;
  /** The SDK's error code from `error.data.idempotency`, when there is one. */
  idempotencyCode?: IdempotencyErrorCode;
  /**
   * How long the server asked the client to wait, from `retryAfterMs` or `Retry-After`: on a 429 or 503,
   * the time to stay away; on a 409 `IN_PROGRESS`, when to ask again.
   */
  retryAfterMs?: number;
}

/** What is known about a failed attempt, gathered by the link. */
export interface FailedAttempt {
  /** `error.data` of the TRPCClientError, when the server answered in tRPC's shape. */
  data?: unknown;
  /** The HTTP status when `data` is absent but the response was seen (for example a proxy's HTML 503). */
  responseStatus?: number;
  /** The `Retry-After` header, already read as milliseconds. */
  retryAfterHeaderMs?: number;
  /** The link's own attempt timeout fired. */
  timedOut: boolean;
  /** The caller's abort signal fired. */
  aborted: boolean;
}

// tRPC's code → HTTP status, for an error shape that lacks `httpStatus` (a custom errorFormatter).
const STATUS_OF_TRPC_CODE: Record<string, number> = {
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  TIMEOUT: 408,
  CONFLICT: 409,
  PRECONDITION_FAILED: 412,
  PAYLOAD_TOO_LARGE: 413,
  UNPROCESSABLE_CONTENT: 422,
  TOO_MANY_REQUESTS: 429,
  CLIENT_CLOSED_REQUEST: 499,
  INTERNAL_SERVER_ERROR: 500,
  NOT_IMPLEMENTED: 501,
  BAD_GATEWAY: 502,
  SERVICE_UNAVAILABLE: 503,
  GATEWAY_TIMEOUT: 504,
};

/** Reads the HTTP status out of a tRPC `error.data`, from `httpStatus` or else from `code`. */
export function statusOfErrorData(data: unknown): number | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const { httpStatus, code } = data as { httpStatus?: unknown; code?: unknown };
  if (typeof httpStatus === 'number') return httpStatus;
  return typeof code === 'string' ? STATUS_OF_TRPC_CODE[code] : undefined;
}

/**
 * Decides whether a failed attempt is retried (docs/protocol.md §4): network failures, the attempt's own
 * timeout, 5xx, `IN_PROGRESS` 409 and 429 are; other 4xx, `PAYLOAD_MISMATCH` and anything after the
 * caller aborted are not. A pure function, so each rule has its own unit test.
 *
 * @example
 * classifyFailure({ data: { httpStatus: 503 }, timedOut: false, aborted: false }).retryable // true
 */
export function classifyFailure(attempt: FailedAttempt): FailureVerdict {
  if (attempt.aborted) return { reason: 'aborted', retryable: false };
  if (attempt.timedOut) return { reason: 'timeout', retryable: true };

  const idempotency = readIdempotencyErrorData(attempt.data);
  const status = statusOfErrorData(attempt.data) ?? attempt.responseStatus;
  const retryAfterMs = serverWaitHint(idempotency, status, attempt.retryAfterHeaderMs);
  const known = (verdict: Omit<FailureVerdict, 'status' | 'idempotencyCode' | 'retryAfterMs'>): FailureVerdict => ({
    ...verdict,
    ...(status === undefined ? {} : { status }),
    ...(idempotency ? { idempotencyCode: idempotency.code } : {}),
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
  });

  switch (idempotency?.code) {
    case 'IN_PROGRESS':
      return known({ reason: 'in_progress', retryable: true });
    case 'STORE_UNAVAILABLE':
      return known({ reason: 'store_unavailable', retryable: true });
    case 'PAYLOAD_MISMATCH':
      return known({ reason: 'payload_mismatch', retryable: false });
    case 'KEY_MISSING':
    case 'KEY_INVALID':
      return known({ reason: 'key_rejected', retryable: false });
    // The handler ran and this error is what the server stored in place of its outcome: every retry gets it again.
    case 'OUTCOME_TOO_LARGE':
      return known({ reason: 'server_error', retryable: false });
  }

  // No tRPC answer and no status: the request may or may not have reached the handler.
  if (status === undefined) return known({ reason: 'network', retryable: true });
  if (status === 429) return known({ reason: 'rate_limited', retryable: true });
  if (status >= 500) return known({ reason: 'server_error', retryable: true });
  if (status >= 400) return known({ reason: 'client_error', retryable: false });
  // A 2xx or 3xx that was not a readable tRPC answer: the outcome is unknown, so retry with the same key.
  return known({ reason: 'network', retryable: true });
}

// Only 429, 503 and the SDK's IN_PROGRESS ask the client to wait (docs/protocol.md §4); a hint on any
// other answer is not meant for a retry. IN_PROGRESS prefers `retryAfterMs`: `Retry-After` counts whole
// seconds, which would turn the server's short poll hint into a full second. A 429 or 503 takes the
// longer of the two, so that neither of the server's asks is cut short.
function serverWaitHint(
  idempotency: IdempotencyErrorData | undefined,
  status: number | undefined,
  headerMs: number | undefined,
): number | undefined {
  if (idempotency?.code === 'IN_PROGRESS') return idempotency.retryAfterMs ?? headerMs;
  if (status !== 429 && status !== 503) return undefined;
  const hints = [idempotency?.retryAfterMs, headerMs].filter((ms) => ms !== undefined);
  return hints.length > 0 ? Math.max(...hints) : undefined;
}
