import type { Operation } from '@trpc/client';

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
 *
 * Responses are remembered per attempt, never per key: two attempt sequences may send one key (the same
 * key on two paths, or with two inputs), and one must never read the other's status or `Retry-After`.
 * An attempt is named by its own abort signal, the `op.signal` the link gives each attempt.
 */
export interface ResponseProbe {
  /** Wraps a fetch (or the global one) so that responses to watched attempts are recorded. */
  wrap(fetch: FetchLike | undefined): FetchLike;
  /**
   * Header fields to add in the keyed link's `headers`, naming the attempt of `op` to the wrapped fetch.
   * The wrapped fetch takes them out again: nothing of it reaches the wire.
   */
  tag(op: Pick<Operation, 'signal'>): Record<symbol, AbortSignal>;
  /** Starts watching one attempt. Attempts nobody watches are never recorded. */
  watch(attempt: AbortSignal): void;
  /** What the response to this attempt was, if one arrived. */
  read(attempt: AbortSignal): ObservedResponse | undefined;
}

// httpLink hands fetch a signal of its own (raced with op.signal), so fetch cannot tell which attempt it
// serves from `init.signal`. Its `headers` callback does see the attempt's op, and tRPC copies the
// returned object's own enumerable properties, symbol-keyed ones included, into `init.headers`. A symbol
// can never collide with a header name, and the wrapped fetch removes it (fetch refuses symbol keys).
const ATTEMPT: unique symbol = Symbol('trpc-idempotency.attempt');

/** Makes a {@link ResponseProbe} for one client. */
export function createResponseProbe(): ResponseProbe {
  // Weak, so that an attempt's entry goes with its signal and no attempt has to remember to clean up.
  const seen = new WeakMap<AbortSignal, ObservedResponse | null>();
  return {
    wrap(fetchImpl) {
      return async (input, init) => {
        const doFetch: FetchLike = fetchImpl ?? ((...args) => globalThis.fetch(...args));
        const { attempt, init: untagged } = untag(init);
        const response = await doFetch(input, untagged);
        const watched = attempt !== undefined && seen.has(attempt);
        if (watched && typeof response?.status === 'number' && typeof response?.headers?.get === 'function') {
          seen.set(attempt, { status: response.status, headers: response.headers });
        }
        return response;
      };
    },
    tag: (op): Record<symbol, AbortSignal> => (op.signal ? { [ATTEMPT]: op.signal } : {}),
    watch: (attempt) => {
      seen.set(attempt, null);
    },
    read: (attempt) => seen.get(attempt) ?? undefined,
  };
}

function untag(init: any): { attempt: AbortSignal | undefined; init: any } {
  const headers: unknown = init?.headers;
  if (typeof headers !== 'object' || headers === null || !(ATTEMPT in headers)) return { attempt: undefined, init };
  const { [ATTEMPT]: attempt, ...rest } = headers as { [ATTEMPT]: unknown };
  const named = typeof attempt === 'object' && attempt !== null ? (attempt as AbortSignal) : undefined;
  return { attempt: named, init: { ...init, headers: rest } };
}
