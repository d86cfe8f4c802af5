import type { TRPCClientError } from '@trpc/client';
import type { AnyRouter } from '@trpc/server/unstable-core-do-not-import';
import {
  type IdempotencyErrorCode,
  type IdempotencyErrorData,
  readIdempotencyErrorData,
} from '@trpc-idempotency/protocol';

/** A TRPCClientError that the server's idempotency layer sent, narrowed to one code. */
export type IdempotencyClientError<TCode extends IdempotencyErrorCode = IdempotencyErrorCode> = Omit<
  TRPCClientError<AnyRouter>,
  'data'
> & {
  readonly data: {
    code: string;
    httpStatus: number;
    idempotency: IdempotencyErrorData & { code: TCode };
    [field: string]: unknown;
  };
};

/**
 * Tells whether an error is one of the idempotency layer's own answers (docs/protocol.md §3), optionally of
 * one code. It reads `error.data.idempotency`, which the server's `idempotencyErrorFormatter` writes,
 * so the SDK's 409 is told apart from the app's own `CONFLICT`.
 *
 * @example
 * try {
 *   await client.orders.create.mutate(input);
 * } catch (error) {
 *   if (isIdempotencyError(error, 'PAYLOAD_MISMATCH')) showError('This order was already placed with other items.');
 *   else throw error;
 * }
 */
export function isIdempotencyError<TCode extends IdempotencyErrorCode = IdempotencyErrorCode>(
  error: unknown,
  code?: TCode,
): error is IdempotencyClientError<TCode> {
  const data = getIdempotencyErrorData(error);
  return data !== undefined && (code === undefined || data.code === code);
}

/** Reads `error.data.idempotency` from a client error, or `undefined` when the error is not the SDK's. */
export function getIdempotencyErrorData(error: unknown): IdempotencyErrorData | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  return readIdempotencyErrorData((error as { data?: unknown }).data);
}
