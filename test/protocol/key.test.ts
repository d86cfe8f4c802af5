import { canonicalJson, isValidIdempotencyKey, parseIdempotencyKey } from '@trpc-idempotency/protocol';
import { describe, expect, it } from 'vitest';

describe('parseIdempotencyKey', () => {
  it('accepts 1 to 255 characters of visible ASCII', () => {
    expect(parseIdempotencyKey('a')).toEqual({ ok: true, key: 'a' });
    expect(parseIdempotencyKey('x'.repeat(255))).toEqual({ ok: true, key: 'x'.repeat(255) });
    expect(parseIdempotencyKey('{a}:b')).toEqual({ ok: true, key: '{a}:b' });
  });

  it('rejects every control character, space, DEL and anything outside ASCII', () => {
    for (let code = 0; code < 0x21; code++) expect(isValidIdempotencyKey(`a${String.fromCharCode(code)}b`)).toBe(false);
    expect(isValidIdempotencyKey('a\x7fb')).toBe(false);
    expect(isValidIdempotencyKey('a\u0100b')).toBe(false);
    expect(isValidIdempotencyKey('😀')).toBe(false);
  });

  it('says KEY_MISSING when no header carries a key, and KEY_INVALID for a bad or ambiguous one', () => {
    expect(parseIdempotencyKey(undefined, null)).toMatchObject({ ok: false, code: 'KEY_MISSING' });
    expect(parseIdempotencyKey('')).toMatchObject({ ok: false, code: 'KEY_INVALID' });
    expect(parseIdempotencyKey('x'.repeat(256))).toMatchObject({ ok: false, code: 'KEY_INVALID' });
    expect(parseIdempotencyKey('a', 'b')).toMatchObject({ ok: false, code: 'KEY_INVALID' });
    expect(parseIdempotencyKey(['a', 'b'])).toMatchObject({ ok: false, code: 'KEY_INVALID' });
  });

  it('unquotes the structured-field string form and checks the inner value by the same rule', () => {
    expect(parseIdempotencyKey('"abc"')).toEqual({ ok: true, key: 'abc' });
    expect(parseIdempotencyKey('"abc"', 'abc')).toEqual({ ok: true, key: 'abc' });
    expect(parseIdempotencyKey('""')).toMatchObject({ ok: false, code: 'KEY_INVALID' });
    expect(parseIdempotencyKey('"a b"')).toMatchObject({ ok: false, code: 'KEY_INVALID' });
  });
});

describe('canonicalJson', () => {
  it('sorts keys at every depth and writes no whitespace', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { f: 1, e: 2 }], c: null } })).toBe(
      '{"a":{"c":null,"d":[3,{"e":2,"f":1}]},"b":1}',
    );
  });

  it('gives the same text for objects written in another order', () => {
    expect(canonicalJson({ x: 1, y: [1, 2], z: 'é' })).toBe(canonicalJson({ z: 'é', y: [1, 2], x: 1 }));
  });

  it('follows JSON.stringify for undefined, non-finite numbers and toJSON', () => {
    expect(canonicalJson({ a: undefined, b: Number.NaN, c: [undefined] })).toBe('{"b":null,"c":[null]}');
    expect(canonicalJson(new Date(0))).toBe('"1970-01-01T00:00:00.000Z"');
  });

  it('refuses BigInt and circular values rather than hashing something ambiguous', () => {
    expect(() => canonicalJson({ a: 1n })).toThrow(TypeError);
    const loop: Record<string, unknown> = {};
    loop.self = loop;
    expect(() => canonicalJson(loop)).toThrow(TypeError);
  });
});
