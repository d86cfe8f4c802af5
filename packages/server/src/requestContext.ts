import { IDEMPOTENCY_KEY_HEADER, LEGACY_IDEMPOTENCY_KEY_HEADER } from '@trpc-idempotency/protocol';

/** What the middleware needs to know about the HTTP request, since tRPC middleware never sees headers. */
export interface IdempotencyRequest {
  /** The raw values of `Idempotency-Key` and `X-Idempotency-Key`, as they arrived. */
  keyHeaders: Array<string | string[] | null | undefined>;
  /** True when the HTTP request carries more than one call, so its response headers are shared. */
  batched: boolean;
  /**
   * tRPC's description of each call in the request (`info.calls`), by batch index. The middleware finds
   * the procedure there: its transformer (the default serializer) and the moment its resolver starts.
   */
  calls?: readonly RequestCall[];
  /** Sets a response header, where the transport allows it. */
  setResponseHeader?: (name: string, value: string) => void;
}

/** The part of a tRPC context that {@link createIdempotency} reads. Spread it into your context. */
export interface IdempotencyRequestContext {
  idempotencyRequest: IdempotencyRequest;
}

/** One call of `info.calls`, as tRPC's adapters pass it to `createContext`. */
export interface RequestCall {
  procedure?: unknown;
}

interface RequestInfoLike {
  calls?: readonly RequestCall[];
}

/** The Node request and response, as `createHTTPServer` and `createHTTPHandler` pass them. */
export interface NodeContextOptions {
  req: { headers: Record<string, string | string[] | undefined> };
  res?: { setHeader(name: string, value: string): unknown; headersSent?: boolean };
  info?: RequestInfoLike;
}

/** The fetch request and response headers, as `fetchRequestHandler` passes them. */
export interface FetchContextOptions {
  req: { headers: { get(name: string): string | null } };
  resHeaders?: { set(name: string, value: string): void };
  info?: RequestInfoLike;
}

/**
 * Reads the idempotency key from a Node HTTP request, for the standalone and Node adapters.
 *
 * @example
 * createHTTPServer({ router, createContext: (opts) => ({ user: auth(opts.req), ...nodeIdempotencyContext(opts) }) });
 */
export function nodeIdempotencyContext(opts: NodeContextOptions): IdempotencyRequestContext {
  const { req, res } = opts;
  return {
    idempotencyRequest: {
      keyHeaders: [
        req.headers[IDEMPOTENCY_KEY_HEADER.toLowerCase()],
        req.headers[LEGACY_IDEMPOTENCY_KEY_HEADER.toLowerCase()],
      ],
      batched: (opts.info?.calls?.length ?? 1) > 1,
      calls: opts.info?.calls,
      setResponseHeader: res
        ? (name, value) => {
            if (!res.headersSent) res.setHeader(name, value);
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
      keyHeaders: [req.headers.get(IDEMPOTENCY_KEY_HEADER), req.headers.get(LEGACY_IDEMPOTENCY_KEY_HEADER)],
      batched: (opts.info?.calls?.length ?? 1) > 1,
      calls: opts.info?.calls,
      setResponseHeader: resHeaders ? (name, value) => resHeaders.set(name, value) : undefined,
    },
  };
}
