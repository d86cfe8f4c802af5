import type { MiddlewareResult } from '@trpc/server/unstable-core-do-not-import';
import type { ResolvedIdempotencyOptions } from './options.js';
import { encodeOutcome, type Serializer } from './outcome.js';

type AnyResult = MiddlewareResult<any>;

/** The outcome text to store, or `undefined` when this result must not be replayed and the lease is released. */
export function encodeStorable<TContext>(
  config: ResolvedIdempotencyOptions<TContext>,
  output: Serializer,
  result: AnyResult,
): string | undefined {
  if (!result.ok && !config.shouldStoreError(result.error)) return undefined;
  try {
    return encodeOutcome(
      output,
      result.ok
        ? { ok: true, data: result.data }
        : { ok: false, error: { code: result.error.code, message: result.error.message } },
    );
  } catch {
    // An outcome the serializer cannot write cannot be replayed; releasing lets a retry run again
    // instead of blocking it for a whole lease.
    return undefined;
  }
}
