/**
 * Drops superjson's record of which values were the same object (`meta.referentialEqualities`) from a
 * serialized value. That record says how the input was built, not what it says: `{ a: d, b: d }` and
 * `{ a: d, b: new Date(d) }` are one intent. Both halves hash the result: the client for derived keys,
 * the server for the input fingerprint, so the same input never gives two different hashes.
 */
export function withoutAliasing(serialized: unknown): unknown {
  if (typeof serialized !== 'object' || serialized === null || !('json' in serialized) || !('meta' in serialized)) {
    return serialized;
  }
  const { meta } = serialized as { meta: unknown };
  if (typeof meta !== 'object' || meta === null || !('referentialEqualities' in meta)) return serialized;
  const { referentialEqualities: _aliasing, ...rest } = meta as Record<string, unknown>;
  return { ...serialized, meta: rest };
}
