import { TRPCError } from '@trpc/server';
import {
  IDEMPOTENCY_ERROR_TRPC_CODES,
  type IdempotencyErrorCode,
  type IdempotencyErrorData,
  type KeyInvalidReason,
  readIdempotencyErrorData,
} from '@trpc-idempotency/protocol';

/**
 * The error the idempotency layer throws for its own answers (docs/protocol.md §3). It is a `TRPCError`
 * with the protocol's tRPC code, and carries `idempotency` for {@link idempotencyErrorFormatter}.
 */
export class IdempotencyError extends TRPCError {
  readonly idempotency: IdempotencyErrorData;

  constructor(
    code: IdempotencyErrorCode,
    message: string,
    options: { retryAfterMs?: number; reason?: KeyInvalidReason; cause?: unknown } = {},
  ) {
    super({ code: IDEMPOTENCY_ERROR_TRPC_CODES[code].trpcCode, message, cause: options.cause });
    const data: IdempotencyErrorData = { code };
    if (options.retryAfterMs !== undefined) data.retryAfterMs = Math.max(0, Math.ceil(options.retryAfterMs));
    if (options.reason !== undefined) data.reason = options.reason;
    this.idempotency = data;
  }
}

/** Reads the idempotency data of an error thrown by this SDK, or `undefined` for any other error. */
export function getIdempotencyErrorData(error: unknown): IdempotencyErrorData | undefined {
  return readIdempotencyErrorData(error);
}

/**
 * An `errorFormatter` for `initTRPC.create()` that adds `idempotency: { code, retryAfterMs? }` to
 * `error.data`, so that clients can tell the SDK's answers from the app's own errors.
 *
 * @example
 * const t = initTRPC.context<Context>().create({ transformer: superjson, errorFormatter: idempotencyErrorFormatter });
 * // or, inside a formatter of your own:
 * errorFormatter: (opts) => idempotencyErrorFormatter({ ...opts, shape: myShape(opts) }),
 */
export function idempotencyErrorFormatter<TShape extends { data: object }>(opts: {
  shape: TShape;
  error: unknown;
}): TShape & { data: { idempotency: IdempotencyErrorData | null } } {
  return { ...opts.shape, data: { ...opts.shape.data, idempotency: getIdempotencyErrorData(opts.error) ?? null } };
}
