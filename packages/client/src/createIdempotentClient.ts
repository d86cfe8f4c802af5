import {
  createTRPCClient,
  type HTTPHeaders,
  type HTTPLinkOptions,
  httpBatchLink,
  httpLink,
  type Operation,
  splitLink,
  type TRPCClient,
  type TRPCLink,
} from '@trpc/client';
import type { AnyRouter } from '@trpc/server/unstable-core-do-not-import';
import {
  anything,
  checkOptions,
  isBoolean,
  isFunction,
  type OptionRule,
  type OptionRules,
  required,
} from '@trpc-idempotency/protocol';
import { hasIdempotencyKey, idempotencyHeaders } from './headersForKey.js';
import { createIdempotencyLink } from './links/idempotencyLink.js';
import type { IdempotencyLinkOptions } from './options.js';
import { createResponseProbe, type FetchLike } from './responseProbe.js';

/** Headers sent on every request, or a function of the operations in the request (one for an unbatched call). */
export type ClientHeaders =
  | HTTPHeaders
  | ((opts: { opList: readonly Operation[] }) => HTTPHeaders | Promise<HTTPHeaders>);

/** Options of {@link createIdempotentClient}. */
export type IdempotentClientOptions<TRouter extends AnyRouter> = {
  /** The tRPC endpoint, for example `https://api.example.com/trpc`. */
  url: string | URL;
  headers?: ClientHeaders;
  /** A fetch to use instead of the global one. */
  fetch?: FetchLike;
  /** Key strategy, retries and `onAttempt`. The transformer is taken from `transformer` above. */
  idempotency?: Omit<IdempotencyLinkOptions, 'transformer'>;
  /**
   * `true`: keyed mutations made in one tick go in one `httpBatchLink` request, their keys in the
   * `Idempotency-Batch-Keys` header (docs/protocol.md §1b). Needs a server on tRPC 11.10 or later, whose
   * middlewares learn each call's batch index; an older one refuses such a batch with 400 `KEY_INVALID`
   * `ambiguous`. The server marks a replay only on an unbatched response, so a batched call's
   * `replayed` is always false. Default `false`: one `httpLink` request per keyed mutation, with an
   * `Idempotency-Key` header, which every tRPC 11 release understands.
   */
  batchKeyed?: boolean;
  /**
   * Replaces the link that sends keyed mutations. Send the keys with `idempotencyHeaders`, which reads
   * `{ op }` (httpLink) and `{ opList }` (httpBatchLink). Not together with `batchKeyed`.
   */
  keyedLink?: TRPCLink<TRouter>;
  /** Replaces the `httpBatchLink` that sends queries and unkeyed calls. */
  unkeyedLink?: TRPCLink<TRouter>;
  /** Links to run before the idempotency link, for example `loggerLink()`. */
  before?: TRPCLink<TRouter>[];
} & Pick<HTTPLinkOptions<TRouter['_def']['_config']['$types']>, 'transformer'>;

const isLink: OptionRule = (value) => (typeof value === 'function' ? undefined : 'must be a tRPC link');
const CLIENT_RULES: OptionRules<IdempotentClientOptions<AnyRouter>> = {
  url: required(
    (value) => (typeof value === 'string' || value instanceof URL ? undefined : 'must be a string or a URL'),
    'is required: the tRPC endpoint, such as https://api.example.com/trpc',
  ),
  headers: (value) =>
    value !== null && (typeof value === 'object' || typeof value === 'function')
      ? undefined
      : 'must be an object or a function',
  fetch: isFunction,
  // The link checks these itself, naming each: idempotencyLink: option "...".
  idempotency: (value) => (typeof value === 'object' && value !== null ? undefined : 'must be an object'),
  keyedLink: isLink,
  unkeyedLink: isLink,
  batchKeyed: isBoolean,
  before: (value) => (Array.isArray(value) ? undefined : 'must be an array of tRPC links'),
  transformer: anything,
} as OptionRules<IdempotentClientOptions<AnyRouter>>;

/**
 * The usual typed tRPC client, with every mutation keyed and retried safely. Keyed mutations go one per
 * request through `httpLink` with an `Idempotency-Key` header, or, with `batchKeyed: true`, batched among
 * themselves through `httpBatchLink` with an `Idempotency-Batch-Keys` header; queries and unkeyed calls
 * batch through `httpBatchLink` of their own.
 *
 * @example
 * const client = createIdempotentClient<AppRouter>({
 *   url: '/trpc',
 *   transformer: superjson,
 *   idempotency: { key: 'uuid', attempts: 5, onAttempt: (e) => console.debug(e) },
 * });
 * await client.orders.create.mutate({ item: 'book' }); // one key, reused by every retry
 */
export function createIdempotentClient<TRouter extends AnyRouter>(
  options: IdempotentClientOptions<TRouter>,
): TRPCClient<TRouter> {
  checkOptions('createIdempotentClient', options as IdempotentClientOptions<AnyRouter>, CLIENT_RULES, (given, bad) => {
    if (given.batchKeyed && given.keyedLink !== undefined) {
      bad('batchKeyed', 'has no effect with "keyedLink"; have that link send idempotencyHeaders({ opList })');
    }
  });
  const headers = options.headers;
  const transformer = (options as { transformer?: any }).transformer;
  const probe = createResponseProbe();
  const userHeaders = async (opList: readonly Operation[]): Promise<Record<string, string | string[] | undefined>> => {
    const value = typeof headers === 'function' ? await headers({ opList }) : headers;
    if (!value) return {};
    return Symbol.iterator in value ? Object.fromEntries(value as Iterable<[string, string]>) : { ...value };
  };
  const common = { url: options.url, transformer } as any;

  // The keys go last so a user header can never replace them; the probe's tag never leaves this client.
  const keyedLink =
    options.keyedLink ??
    (options.batchKeyed
      ? httpBatchLink<TRouter>({
          ...common,
          fetch: probe.wrap(options.fetch),
          headers: async ({ opList }) => ({
            ...(await userHeaders(opList)),
            ...idempotencyHeaders({ opList }),
            ...probe.tag(opList),
          }),
        })
      : httpLink<TRouter>({
          ...common,
          fetch: probe.wrap(options.fetch),
          headers: async ({ op }) => ({ ...(await userHeaders([op])), ...idempotencyHeaders(op), ...probe.tag(op) }),
        }));
  const unkeyedLink =
    options.unkeyedLink ??
    httpBatchLink<TRouter>({
      ...common,
      ...(options.fetch ? { fetch: options.fetch } : {}),
      headers: ({ opList }) => userHeaders(opList),
    });

  return createTRPCClient<TRouter>({
    links: [
      ...(options.before ?? []),
      createIdempotencyLink<TRouter>({ ...options.idempotency, transformer }, { probe }),
      splitLink<TRouter>({ condition: hasIdempotencyKey, true: keyedLink, false: unkeyedLink }),
    ],
  });
}
