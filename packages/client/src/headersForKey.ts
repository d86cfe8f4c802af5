import type { Operation } from '@trpc/client';
import {
  formatBatchKeys,
  IDEMPOTENCY_BATCH_KEYS_HEADER,
  IDEMPOTENCY_KEY_HEADER,
  PREFER_HEADER,
} from '@trpc-idempotency/protocol';

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
 * An attempt after a 409 `IN_PROGRESS` also asks the server to wait for the outcome: `Prefer: wait=<seconds>`
 * (docs/protocol.md §4); a batch asks only when every keyed call in it does, with the shortest wait, so that
 * no call's answer waits for another's. `{}` when no operation has a key. It can be the `headers` option
 * itself, or be spread into yours.
 *
 * @example
 * httpLink({ url, transformer: superjson, headers: ({ op }) => ({ ...idempotencyHeaders(op), authorization }) });
 * httpBatchLink({ url, transformer: superjson, headers: idempotencyHeaders }); // keyed mutations may batch
 */
export function idempotencyHeaders(source: IdempotencyHeadersSource): Record<string, string> {
  if ('opList' in source && Array.isArray(source.opList)) {
    const value = formatBatchKeys(source.opList.map(keyOf));
    const keyed = source.opList.filter((op) => keyOf(op) !== undefined);
    const waits = keyed.map(waitOf);
    const wait = waits.includes(undefined) ? undefined : Math.min(...(waits as number[]));
    return value === undefined ? {} : { [IDEMPOTENCY_BATCH_KEYS_HEADER]: value, ...prefer(wait) };
  }
  const op = (
    'op' in source && typeof source.op === 'object' && source.op !== null ? source.op : source
  ) as WithContext;
  const key = keyOf(op);
  return key === undefined ? {} : { [IDEMPOTENCY_KEY_HEADER]: key, ...prefer(waitOf(op)) };
}

const prefer = (seconds: number | undefined): Record<string, string> =>
  seconds === undefined ? {} : { [PREFER_HEADER]: `wait=${seconds}` };

/** Tells whether an operation carries a key, the condition that sends it down the keyed link. */
export function hasIdempotencyKey(op: Pick<Operation, 'context'>): boolean {
  return typeof op.context.idempotencyKey === 'string';
}

function keyOf(op: WithContext): string | undefined {
  const key = op.context?.idempotencyKey;
  return typeof key === 'string' ? key : undefined;
}

function waitOf(op: WithContext): number | undefined {
  const seconds = op.context?.idempotencyPreferWait;
  return typeof seconds === 'number' && Number.isInteger(seconds) && seconds >= 1 ? seconds : undefined;
}
