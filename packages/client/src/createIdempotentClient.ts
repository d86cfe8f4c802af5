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
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('createIdempotentClient(options): options must be an object.');
  }
  if (typeof options.url !== 'string' && !(options.url instanceof URL)) {
    throw new TypeError('createIdempotentClient: option "url" must be a string or a URL.');
  }
  if (options.fetch !== undefined && typeof options.fetch !== 'function') {
    throw new TypeError('createIdempotentClient: option "fetch" must be a function.');
  }
  const headers = options.headers;
  if (headers !== undefined && (headers === null || (typeof headers !== 'object' && typeof headers !== 'function'))) {
    throw new TypeError('createIdempotentClient: option "headers" must be an object or a function.');
  }
  for (const name of ['keyedLink', 'unkeyedLink'] as const) {
    if (options[name] !== undefined && typeof options[name] !== 'function') {
      throw new TypeError(`createIdempotentClient: option "${name}" must be a tRPC link.`);
    }
  }
  if (options.batchKeyed !== undefined && typeof options.batchKeyed !== 'boolean') {
    throw new TypeError('createIdempotentClient: option "batchKeyed" must be a boolean.');
  }
  if (options.batchKeyed && options.keyedLink !== undefined) {
    throw new TypeError(
      'createIdempotentClient: option "batchKeyed" has no effect with "keyedLink"; have that link send idempotencyHeaders({ opList }).',
    );
  }
  if (options.before !== undefined && !Array.isArray(options.before)) {
    throw new TypeError('createIdempotentClient: option "before" must be an array of tRPC links.');
  }
  if (options.idempotency !== undefined && (typeof options.idempotency !== 'object' || options.idempotency === null)) {
    throw new TypeError('createIdempotentClient: option "idempotency" must be an object.');
  }
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
