import type { Operation } from '@trpc/client';

/** The `fetch` signature tRPC's HTTP links accept. */
export type FetchLike = (input: any, init?: any) => Promise<any>;

/** The parts of an HTTP response the retry policy needs when tRPC could not read the body. */
export interface ObservedResponse {
  status: number;
  headers: { get(name: string): string | null };
}

/**
 * Sees the status and headers of each keyed response, before tRPC reads the body. httpLink and
 * httpBatchLink give a link the Response only when the body was tRPC JSON; a proxy's HTML 503 or an empty
 * 429 arrives as an error with no status at all. `createIdempotentClient` wraps its keyed link's `fetch`
 * with this, so such answers are still classified by status and their `Retry-After` is honoured.
 *
 * Responses are remembered per attempt, never per key: two attempt sequences may send one key (the same
 * key on two paths, or with two inputs), and one must never read the other's status or `Retry-After`.
 * An attempt is named by its own abort signal, the `op.signal` the link gives each attempt. A batch is one
 * response to several attempts: each of them records it.
 */
export interface ResponseProbe {
  /** Wraps a fetch (or the global one) so that responses to watched attempts are recorded. */
  wrap(fetch: FetchLike | undefined): FetchLike;
  /**
   * Starts watching the attempt that `op` is, named by `op.signal`, and returns `op` marked with it. The
   * mark survives a link's copy of the operation: httpBatchLink hands its `headers` copies of the batch's
   * operations whose signals are its own.
   */
  watch<TOp extends Pick<Operation, 'signal'>>(op: TOp & { signal: AbortSignal }): TOp;
  /**
   * Header fields to add in the keyed link's `headers`, naming the attempts of the request's operations
   * (`op` for httpLink, `opList` for httpBatchLink) to the wrapped fetch. The wrapped fetch takes them
   * out again: nothing of it reaches the wire.
   */
  tag(ops: Pick<Operation, 'signal'> | readonly Pick<Operation, 'signal'>[]): Record<symbol, readonly AbortSignal[]>;
  /** What the response to this attempt was, if one arrived. */
  read(attempt: AbortSignal): ObservedResponse | undefined;
}

// The link hands fetch a signal of its own (httpLink races it with op.signal, httpBatchLink joins every
// operation's), so fetch cannot tell which attempts it serves from `init.signal`. The `headers` callback
// does see the request's operations, and tRPC copies the returned object's own enumerable properties,
// symbol-keyed ones included, into `init.headers`. A symbol can never collide with a header name, and the
// wrapped fetch removes it (fetch refuses symbol keys).
const ATTEMPTS: unique symbol = Symbol('trpc-idempotency.attempts');
// The attempt an operation belongs to. httpBatchLink copies each operation with `{ ...op, signal }`,
// which keeps this symbol-keyed property while it replaces the signal.
const ATTEMPT_OF_OP: unique symbol = Symbol('trpc-idempotency.attemptOfOp');

/** Makes a {@link ResponseProbe} for one client. */
export function createResponseProbe(): ResponseProbe {
  // Weak, so that an attempt's entry goes with its signal and no attempt has to remember to clean up.
  const seen = new WeakMap<AbortSignal, ObservedResponse | null>();
  return {
    wrap(fetchImpl) {
      return async (input, init) => {
        const doFetch: FetchLike = fetchImpl ?? ((...args) => globalThis.fetch(...args));
        const { attempts, init: untagged } = untag(init);
        const response = await doFetch(input, untagged);
        if (typeof response?.status === 'number' && typeof response?.headers?.get === 'function') {
          const observed = { status: response.status, headers: response.headers };
          for (const attempt of attempts) if (seen.has(attempt)) seen.set(attempt, observed);
        }
        return response;
      };
    },
    watch(op) {
      seen.set(op.signal, null);
      return { ...op, [ATTEMPT_OF_OP]: op.signal };
    },
    tag(ops): Record<symbol, readonly AbortSignal[]> {
      const list: readonly Pick<Operation, 'signal'>[] = Array.isArray(ops) ? ops : [ops as Pick<Operation, 'signal'>];
      const attempts = list.map(attemptOf).filter((attempt) => attempt !== undefined);
      return attempts.length > 0 ? { [ATTEMPTS]: attempts } : {};
    },
    read: (attempt) => seen.get(attempt) ?? undefined,
  };
}

function attemptOf(op: Pick<Operation, 'signal'>): AbortSignal | undefined {
  const marked = (op as { [ATTEMPT_OF_OP]?: unknown })[ATTEMPT_OF_OP];
  if (isSignal(marked)) return marked;
  return isSignal(op.signal) ? op.signal : undefined;
}

function untag(init: any): { attempts: readonly AbortSignal[]; init: any } {
  const headers: unknown = init?.headers;
  if (typeof headers !== 'object' || headers === null || !(ATTEMPTS in headers)) return { attempts: [], init };
  const { [ATTEMPTS]: attempts, ...rest } = headers as { [ATTEMPTS]: unknown };
  return { attempts: Array.isArray(attempts) ? attempts.filter(isSignal) : [], init: { ...init, headers: rest } };
}

function isSignal(value: unknown): value is AbortSignal {
  return typeof value === 'object' && value !== null && typeof (value as AbortSignal).aborted === 'boolean';
}
