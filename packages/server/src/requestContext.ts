import {
  IDEMPOTENCY_BATCH_KEYS_HEADER,
  IDEMPOTENCY_KEY_HEADER,
  LEGACY_IDEMPOTENCY_KEY_HEADER,
  PREFER_HEADER,
} from '@trpc-idempotency/protocol';

/**
 * What the middleware needs to know about the request a call came in, since tRPC middleware never sees
 * headers. The context helpers below make it; nothing of tRPC's is kept in it.
 */
export interface IdempotencyRequest {
  /** How the call arrived: over HTTP, on a WebSocket connection, or from a server-side caller. */
  transport: 'http' | 'ws' | 'caller';
  /** The raw values of `Idempotency-Key` and `X-Idempotency-Key`, as they arrived. */
  keyHeaders: ReadonlyArray<string | readonly string[] | null | undefined>;
  /** The raw value of `Idempotency-Batch-Keys`: each keyed call's key by its batch index. */
  batchKeys?: string | readonly string[] | null;
  /** How many calls the request carries (more than one: a batch, whose response headers are shared). */
  callCount: number;
  /**
   * The raw value of `Prefer` (RFC 7240), as it arrived: `wait=<seconds>` asks the server to wait that long
   * for a running call with the same key (docs/protocol.md §3). HTTP only; a WebSocket or a server-side
   * call waits as the server's `inProgress` option says.
   */
  prefer?: string | readonly string[] | null;
  /** Sets a response header, where the transport allows it. */
  setResponseHeader?: (name: string, value: string) => void;
}

/** The part of a tRPC context that {@link createIdempotency} reads. Spread it into your context. */
export interface IdempotencyRequestContext {
  idempotencyRequest: IdempotencyRequest;
}

interface RequestInfoLike {
  /** tRPC's `info.calls`: only its length is read. */
  calls?: readonly unknown[];
}

/**
 * The Node request and response, as `createHTTPServer`, `createHTTPHandler` and `applyWSSHandler` pass
 * them (for a WebSocket, `res` is the socket).
 */
export interface NodeContextOptions {
  req: { headers: Record<string, string | string[] | undefined> };
  res?: unknown;
  info?: RequestInfoLike;
}

/** The fetch request and response headers, as `fetchRequestHandler` passes them. */
export interface FetchContextOptions {
  req: { headers: { get(name: string): string | null } };
  resHeaders?: { set(name: string, value: string): void };
  info?: RequestInfoLike;
}

/**
 * Reads the idempotency key from a Node HTTP request, for the standalone, Node and WebSocket adapters.
 * On a WebSocket each mutation carries its key in its input (docs/protocol.md §1b); a key header on the
 * connection request is refused, since it would name every mutation of the connection.
 *
 * @example
 * createHTTPServer({ router, createContext: (opts) => ({ user: auth(opts.req), ...nodeIdempotencyContext(opts) }) });
 */
export function nodeIdempotencyContext(opts: NodeContextOptions): IdempotencyRequestContext {
  const { req, res } = opts;
  const headers = req.headers;
  const upgrade = headers.upgrade;
  const transport = typeof upgrade === 'string' && upgrade.toLowerCase() === 'websocket' ? 'ws' : 'http';
  const setHeader = (res as { setHeader?: unknown } | undefined)?.setHeader;
  return {
    idempotencyRequest: {
      transport,
      keyHeaders: [headers[IDEMPOTENCY_KEY_HEADER.toLowerCase()], headers[LEGACY_IDEMPOTENCY_KEY_HEADER.toLowerCase()]],
      batchKeys: headers[IDEMPOTENCY_BATCH_KEYS_HEADER.toLowerCase()],
      callCount: opts.info?.calls?.length ?? 1,
      // The upgrade request's Prefer would speak for every call of the connection: not read.
      prefer: transport === 'http' ? headers[PREFER_HEADER.toLowerCase()] : undefined,
      setResponseHeader:
        transport === 'http' && typeof setHeader === 'function'
          ? (name, value) => {
              const response = res as { setHeader(name: string, value: string): unknown; headersSent?: boolean };
              if (!response.headersSent) response.setHeader(name, value);
            }
          : undefined,
    },
  };
}

/**
 * Reads the idempotency key from a fetch `Request`, for the fetch adapter (Next.js app router, Hono, Workers).
 *
 * @example
 * fetchRequestHandler({ endpoint: '/trpc', req, router, createContext: (opts) => ({ ...fetchIdempotencyContext(opts) }) });
 */
export function fetchIdempotencyContext(opts: FetchContextOptions): IdempotencyRequestContext {
  const { req, resHeaders } = opts;
  return {
    idempotencyRequest: {
      transport: 'http',
      keyHeaders: [req.headers.get(IDEMPOTENCY_KEY_HEADER), req.headers.get(LEGACY_IDEMPOTENCY_KEY_HEADER)],
      batchKeys: req.headers.get(IDEMPOTENCY_BATCH_KEYS_HEADER),
      callCount: opts.info?.calls?.length ?? 1,
      prefer: req.headers.get(PREFER_HEADER),
      setResponseHeader: resHeaders ? (name, value) => resHeaders.set(name, value) : undefined,
    },
  };
}

/**
 * Gives a server-side call (`createCaller`, `createCallerFactory(router)(ctx)`: server actions, server
 * components, jobs, tests) its key: spread it into the context you call with. `undefined` gives no key,
 * so a procedure that requires one answers `KEY_MISSING`.
 *
 * @example
 * // A Next.js server action, given the key the page keeps for this intent:
 * export async function placeOrder(key: string, item: string) {
 *   const caller = createCaller({ ...(await createContext()), ...callerIdempotencyContext(key) });
 *   return caller.orders.create({ item });
 * }
 */
export function callerIdempotencyContext(key: string | null | undefined): IdempotencyRequestContext {
  return { idempotencyRequest: { transport: 'caller', keyHeaders: [key], callCount: 1 } };
}
