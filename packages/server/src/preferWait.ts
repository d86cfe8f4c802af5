/** Longer than any server bound: a `wait` with more digits than this is read as this many seconds. */
const MAX_SECONDS = 1_000_000;

/**
 * Reads the `wait` preference of RFC 7240 from the raw `Prefer` header values: `Prefer: wait=10`, also
 * among others (`Prefer: respond-async, wait=10`, or in a second `Prefer` header). Only the first `wait`
 * counts (RFC 7240 §2). A `wait` whose value is not whole seconds is ignored, as RFC 7240 has a server do
 * with a preference it does not understand; so is the whole header when there is none.
 *
 * @example
 * preferredWaitSeconds('respond-async, wait=5') // 5
 * preferredWaitSeconds('wait=soon')             // undefined
 */
export function preferredWaitSeconds(values: string | readonly string[] | null | undefined): number | undefined {
  if (values === undefined || values === null) return undefined;
  for (const value of typeof values === 'string' ? [values] : values) {
    if (typeof value !== 'string') continue;
    for (const preference of value.split(',')) {
      // A preference may carry parameters after ';', which `wait` has none of.
      const [token = '', ...rest] = (preference.split(';')[0] ?? '').split('=');
      if (token.trim().toLowerCase() !== 'wait') continue;
      const seconds = rest
        .join('=')
        .trim()
        .replace(/^"(.*)"$/, '$1');
      if (!/^\d+$/.test(seconds)) return undefined;
      return seconds.length > 7 ? MAX_SECONDS : Math.min(Number(seconds), MAX_SECONDS);
    }
  }
  return undefined;
}
