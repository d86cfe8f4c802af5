import { IDEMPOTENCY_KEY_HEADER } from '@trpc-idempotency/protocol';

/** The `fetch` signature tRPC's HTTP links accept. */
export type FetchLike = (input: any, init?: any) => Promise<any>;

/** The parts of an HTTP response the retry policy needs when tRPC could not read the body. */
export interface ObservedResponse {
  status: number;
  headers: { get(name: string): string | null };
}

/**
 * Sees the status and headers of each keyed response, before tRPC reads the body. httpLink gives a link
 * the Response only when the body was tRPC JSON; a proxy's HTML 503 or an empty 429 arrives as an error
 * with no status at all. `createIdempotentClient` wraps its `fetch` with this, so such answers are still
 * classified by status and their `Retry-After` is honoured.
 */
export interface ResponseProbe {
  /** Wraps a fetch (or the global one) so that responses to keyed requests are recorded. */
  wrap(fetch: FetchLike | undefined): FetchLike;
  /** Starts watching a key for its next attempt, forgetting what an earlier attempt saw. */
  watch(key: string): void;
  /** Stops watching a key, after its last attempt. Keys nobody watches are never recorded. */
  forget(key: string): void;
  /** What the last response for a key was, if one arrived. */
  read(key: string): ObservedResponse | undefined;
}

/** Makes a {@link ResponseProbe} for one client. */
export function createResponseProbe(): ResponseProbe {
  const seen = new Map<string, ObservedResponse | undefined>();
  return {
    wrap(fetchImpl) {
      return async (input, init) => {
        const doFetch: FetchLike = fetchImpl ?? ((...args) => globalThis.fetch(...args));
        const response = await doFetch(input, init);
        const key = readKeyHeader(init?.headers);
        const watched = key !== undefined && seen.has(key);
        if (watched && typeof response?.status === 'number' && typeof response?.headers?.get === 'function') {
          seen.set(key, { status: response.status, headers: response.headers });
        }
        return response;
      };
    },
    watch: (key) => {
      seen.set(key, undefined);
    },
    forget: (key) => {
      seen.delete(key);
    },
    read: (key) => seen.get(key),
  };
}

const HEADER = IDEMPOTENCY_KEY_HEADER.toLowerCase();

function readKeyHeader(headers: unknown): string | undefined {
  if (!headers || typeof headers !== 'object') return undefined;
  if (typeof (headers as { get?: unknown }).get === 'function') {
    return (headers as { get(name: string): string | null }).get(HEADER) ?? undefined;
  }
  const entries: Iterable<[string, unknown]> = Array.isArray(headers)
    ? (headers as Array<[string, unknown]>)
    : Object.entries(headers);
  for (const [name, value] of entries) {
    if (name.toLowerCase() === HEADER && typeof value === 'string') return value;
  }
  return undefined;
}
