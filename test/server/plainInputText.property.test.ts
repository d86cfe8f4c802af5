import { createHash } from 'node:crypto';
import { canonicalJson, withoutAliasing } from '@trpc-idempotency/protocol';
import fc from 'fast-check';
import superjson, { SuperJSON } from 'superjson';
import { describe, expect, it } from 'vitest';
import { fingerprintInput } from '../../packages/server/src/hashing.js';
import type { Serializer } from '../../packages/server/src/outcome.js';
import { plainInputText } from '../../packages/server/src/plainInputText.js';

/** The fingerprint as docs/protocol.md defines it, computed the one slow way: serialize, then canonical JSON. */
function definedFingerprint(serializer: Serializer, input: unknown): string {
  // A call without input counts as `null`.
  if (input === undefined) return createHash('sha256').update('null').digest('hex');
  let serialized: unknown;
  try {
    serialized = withoutAliasing(serializer.serialize(input));
  } catch {
    serialized = { unserializable: input };
  }
  let text: string;
  try {
    text = canonicalJson(serialized);
  } catch {
    throw new Error('This input cannot be fingerprinted for idempotency.');
  }
  return createHash('sha256').update(text).digest('hex');
}

function outcomeOf(run: () => string): string {
  try {
    return run();
  } catch (error) {
    return `threw ${(error as Error).message}`;
  }
}

class Point {
  constructor(
    readonly x: number,
    readonly y: number,
  ) {}
}

const withCustom = new SuperJSON();
withCustom.registerCustom<string, string>(
  {
    isApplicable: (v): v is string => typeof v === 'string' && v.startsWith('#'),
    serialize: (v) => v,
    deserialize: (v) => v,
  },
  'hashTag',
);
const withClass = new SuperJSON();
withClass.registerClass(Point);
// A look-alike: superjson's parts, but it writes plain values its own way.
const lookAlike = Object.assign(new SuperJSON(), { serialize: (value: unknown) => ({ json: value, meta: { v: 1 } }) });

const serializers: Array<[string, Serializer]> = [
  ['superjson (the default export)', superjson as unknown as Serializer],
  ['a SuperJSON instance', new SuperJSON()],
  ['a SuperJSON instance with dedupe', new SuperJSON({ dedupe: true })],
  ['a SuperJSON with a custom transformer', withCustom],
  ['a SuperJSON with a registered class', withClass],
  ['a look-alike of superjson', lookAlike],
];

const key = fc.oneof(
  { weight: 5, arbitrary: fc.string({ maxLength: 4 }) },
  fc.constantFrom('__proto__', 'constructor', 'prototype', 'toJSON', '10', '#tag'),
);
const anyInput = fc.anything({
  key,
  withBigInt: true,
  withDate: true,
  withMap: true,
  withSet: true,
  withNullPrototype: true,
  withBoxedValues: true,
  withSparseArray: true,
  withTypedArray: true,
  withObjectString: true,
});
const sparse = [1];
sparse[2] = 3;
// What tRPC hands the middleware after JSON.parse and superjson: plain values, and the odd Date, -0 or alias.
const aliased = fc.dictionary(fc.string({ maxLength: 3 }), fc.jsonValue()).map((shared) => ({ a: shared, b: shared }));
const parsedInput = fc.oneof(
  fc.jsonValue().map((value) => JSON.parse(JSON.stringify(value)) as unknown),
  fc.record({ at: fc.date({ noInvalidDate: true }) }),
  fc.record({ n: fc.oneof(fc.constantFrom(-0, 0, Number.NaN, Number.POSITIVE_INFINITY), fc.double()) }),
  aliased,
  fc.constantFrom(
    '#hashtag',
    { tag: '#x' },
    { point: new Point(1, 2) },
    sparse,
    Object.assign([1, 2], { extra: new Date(0) }),
  ),
);

describe('the fingerprint of an input, property (its plain-JSON path writes what the serializer would)', () => {
  it.each(serializers)('is unchanged for any input, with %s', (_name, serializer) => {
    fc.assert(
      fc.property(fc.oneof(anyInput, parsedInput), (input) => {
        expect(outcomeOf(() => fingerprintInput(serializer, input))).toBe(
          outcomeOf(() => definedFingerprint(serializer, input)),
        );
      }),
      { numRuns: 1500 },
    );
  });

  it('takes the plain path for a plain JSON input with superjson, and never with a custom transformer or a look-alike', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        // As parsed from a request body, without the keys superjson refuses to write.
        const text = JSON.stringify(value).replace(/"(__proto__|constructor|prototype)"/g, '"x$1"');
        const input = JSON.parse(text) as unknown;
        const expected = canonicalJson(superjson.serialize(input));
        expect(plainInputText(superjson as unknown as Serializer, input)).toBe(expected);
        expect(plainInputText(withCustom, input)).toBeUndefined();
        expect(plainInputText(lookAlike, input)).toBeUndefined();
      }),
      { numRuns: 1000 },
    );
  });

  it('keeps the fingerprint of a known input (stored records stay comparable across versions)', () => {
    const input = { qty: 2, item: 'lamp', tags: ['gift', null, true] };
    const text = '{"json":{"item":"lamp","qty":2,"tags":["gift",null,true]}}';
    expect(plainInputText(superjson as unknown as Serializer, input)).toBe(text);
    expect(fingerprintInput(superjson as unknown as Serializer, input)).toBe(
      createHash('sha256').update(text).digest('hex'),
    );
  });
});
