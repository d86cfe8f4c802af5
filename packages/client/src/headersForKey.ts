import type { Operation } from '@trpc/client';
import { formatBatchKeys, IDEMPOTENCY_BATCH_KEYS_HEADER, IDEMPOTENCY_KEY_HEADER } from '@trpc-idempotency/protocol';

type WithContext = Pick<Operation, 'context'>;

/**
 * What {@link idempotencyHeaders} reads the keys from: one operation, the `{ op }` that `httpLink` hands its
 * `headers`, or the `{ opList }` that `httpBatchLink` and `httpBatchStreamLink` hand theirs.
 */
export type IdempotencyHeadersSource = WithContext | { op: WithContext } | { opList: readonly WithContext[] };

/**
 * The request headers that carry the keys of a request's operations (docs/protocol.md §1b):
 *
 * - for one operation (`op` or `{ op }`): `{ 'Idempotency-Key': key }`;
 * - for a batch (`{ opList }`): `{ 'Idempotency-Batch-Keys': '{"0":"a1","2":"c3"}' }`, each keyed operation's
 *   key under its index in the batch. The server picks a call's key by its `batchIndex`, which tRPC 11.10
 *   and later give its middlewares; an older server refuses such a batch with `KEY_INVALID` `ambiguous`.
 *
 * `{}` when no operation has a key. It can be the `headers` option itself, or be spread into yours.
 *
 * @example
 * httpLink({ url, transformer: superjson, headers: ({ op }) => ({ ...idempotencyHeaders(op), authorization }) });
 * httpBatchLink({ url, transformer: superjson, headers: idempotencyHeaders }); // keyed mutations may batch
 */
export function idempotencyHeaders(source: IdempotencyHeadersSource): Record<string, string> {
  if ('opList' in source && Array.isArray(source.opList)) {
    const value = formatBatchKeys(source.opList.map(keyOf));
    return value === undefined ? {} : { [IDEMPOTENCY_BATCH_KEYS_HEADER]: value };
  }
  const op = 'op' in source && typeof source.op === 'object' && source.op !== null ? source.op : source;
  const key = keyOf(op as WithContext);
  return key === undefined ? {} : { [IDEMPOTENCY_KEY_HEADER]: key };
}

/** Tells whether an operation carries a key, the condition that sends it down the keyed link. */
export function hasIdempotencyKey(op: Pick<Operation, 'context'>): boolean {
  return typeof op.context.idempotencyKey === 'string';
}

function keyOf(op: WithContext): string | undefined {
  const key = op.context?.idempotencyKey;
  return typeof key === 'string' ? key : undefined;
}
