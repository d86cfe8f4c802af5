import type { Operation } from '@trpc/client';
import { IDEMPOTENCY_KEY_HEADER } from '@trpc-idempotency/protocol';

/**
 * The request headers that carry an operation's key: `{ 'Idempotency-Key': key }`, or `{}` when the
 * operation has none. Use it in the `headers` of your own `httpLink` when you replace the keyed link.
 *
 * @example
 * httpLink({ url, transformer: superjson, headers: ({ op }) => ({ ...idempotencyHeaders(op), authorization }) });
 */
export function idempotencyHeaders(op: Pick<Operation, 'context'>): Record<string, string> {
  const key = op.context.idempotencyKey;
  return typeof key === 'string' ? { [IDEMPOTENCY_KEY_HEADER]: key } : {};
}

/** Tells whether an operation carries a key, the condition that sends it down the unbatched link. */
export function hasIdempotencyKey(op: Pick<Operation, 'context'>): boolean {
  return typeof op.context.idempotencyKey === 'string';
}
