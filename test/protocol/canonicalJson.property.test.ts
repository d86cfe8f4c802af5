import { canonicalJson, parseIdempotencyKey } from '@trpc-idempotency/protocol';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

/**
 * The definition canonicalJson must keep, written the slow, obvious way: members in sorted key order at
 * every level (built by hand: a JS object would put integer-like keys first), values as JSON.stringify writes them.
 */
function sortedJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(sortedJson).join(',')}]`;
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  const record = value as Record<string, unknown>;
  return `{${Object.keys(record)
    .sort()
    .map((name) => `${JSON.stringify(name)}:${sortedJson(record[name])}`)
    .join(',')}}`;
}

describe('canonicalJson, property', () => {
  it('equals JSON.stringify of the value with its keys sorted, for any JSON value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(canonicalJson(value)).toBe(sortedJson(value));
      }),
      { numRuns: 2000 },
    );
  });

  it('gives the same text whatever order the keys were written in', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (record) => {
        const reversed = Object.fromEntries(Object.entries(record).reverse());
        expect(canonicalJson(reversed)).toBe(canonicalJson(record));
      }),
    );
  });
});

describe('parseIdempotencyKey, property', () => {
  /** The rule as the protocol states it: every string value, unquoted, must be one and the same valid key. */
  function expected(values: Array<string | string[] | null | undefined>) {
    const present = values.flat().filter((v): v is string => typeof v === 'string');
    if (present.length === 0) return 'KEY_MISSING';
    const keys = new Set(
      present.map((v) => (v.length >= 2 && v.startsWith('"') && v.endsWith('"') ? v.slice(1, -1) : v)),
    );
    if (keys.size > 1) return 'conflicting';
    const [key] = keys as Set<string>;
    return /^[\x21-\x7e]{1,255}$/.test(key!) ? key : 'format';
  }

  it('answers as the protocol says for any mix of header values', () => {
    const value = fc.oneof(
      fc.constant(undefined),
      fc.constant(null),
      fc.constantFrom('abc', '"abc"', '', '"', 'a b', 'x'.repeat(256)),
      fc.string({ maxLength: 6 }),
      fc.array(fc.constantFrom('abc', '"abc"', 'def', ''), { maxLength: 3 }),
    );
    fc.assert(
      fc.property(fc.array(value, { maxLength: 3 }), (values) => {
        const parsed = parseIdempotencyKey(...values);
        const outcome = parsed.ok ? parsed.key : parsed.code === 'KEY_MISSING' ? 'KEY_MISSING' : parsed.reason;
        expect(outcome).toBe(expected(values));
      }),
      { numRuns: 2000 },
    );
  });
});
