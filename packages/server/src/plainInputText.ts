import { canonicalJson, withoutAliasing } from '@trpc-idempotency/protocol';
import type { Serializer } from './outcome.js';

/** The parts of a superjson instance (v1.8 and later, v2) that decide what it makes of plain JSON values. */
interface SuperjsonParts {
  serialize(value: unknown): unknown;
  customTransformerRegistry: { transfomers: Record<string, unknown> };
  classRegistry: { getIdentifier(value: unknown): unknown };
}

/** Most inputs are small; a larger one takes the transformer's own path rather than a long alias check here. */
const MAX_OBJECTS = 64;
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
const PROBE = { b: [1, 'x', true, null, { d: 2.5, e: [] }], a: 'é\u2028"', c: {}, 10: -1e21 };

const checked = new WeakMap<object, boolean>();

/**
 * The text the fingerprint is made of, `canonicalJson(withoutAliasing(serializer.serialize(input)))`,
 * written in one walk of the input without the serializer, for the common case where that walk can be
 * sure of the result: the serializer is superjson with no custom transformer or plain-object class
 * registered, and the input is plain JSON (strings, finite numbers other than -0, booleans, null, plain
 * objects and dense arrays, no object twice, none of the keys superjson refuses). superjson writes such a
 * value as `{ json: <a copy of it> }` with no `meta`, so the text is `{"json":<canonical JSON of it>}`.
 * `undefined` otherwise: the caller then serializes as before. Both paths give the same text for every
 * input they both accept (test/protocol/plainInputText.property.test.ts), so fingerprints do not change.
 */
export function plainInputText(serializer: Serializer, input: unknown): string | undefined {
  const superjson = plainSuperjson(serializer);
  if (!superjson) return undefined;
  const body = writePlain(input, []);
  return body === undefined ? undefined : `{"json":${body}}`;
}

function plainSuperjson(serializer: Serializer): SuperjsonParts | undefined {
  const candidate = (
    typeof serializer === 'function' ? (serializer as { defaultInstance?: unknown }).defaultInstance : serializer
  ) as Partial<SuperjsonParts> | undefined;
  const customs = candidate?.customTransformerRegistry?.transfomers;
  const classes = candidate?.classRegistry;
  if (typeof customs !== 'object' || customs === null || typeof classes?.getIdentifier !== 'function') return undefined;
  // Registered at any time, so asked on every call: a custom transformer may claim any value.
  for (const _name in customs) return undefined;
  if (classes.getIdentifier(Object) !== undefined || classes.getIdentifier(Array) !== undefined) return undefined;
  let agrees = checked.get(serializer);
  if (agrees === undefined) {
    // Once per serializer: a look-alike that writes plain JSON any other way never takes this path.
    agrees = sameAsSerializer(serializer, PROBE);
    checked.set(serializer, agrees);
  }
  return agrees ? (candidate as SuperjsonParts) : undefined;
}

function sameAsSerializer(serializer: Serializer, probe: unknown): boolean {
  try {
    const body = writePlain(probe, []);
    return body !== undefined && `{"json":${body}}` === canonicalJson(withoutAliasing(serializer.serialize(probe)));
  } catch {
    return false;
  }
}

/** Canonical JSON of a plain JSON value, or `undefined` as soon as the value is anything else. */
function writePlain(value: unknown, seen: object[]): string | undefined {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) && !Object.is(value, -0) ? JSON.stringify(value) : undefined;
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object':
      break;
    default:
      return undefined;
  }
  if (value === null) return 'null';
  // An object met twice is aliasing, which superjson records in `meta`; a cycle is met twice too.
  if (seen.length >= MAX_OBJECTS || seen.includes(value)) return undefined;
  seen.push(value);
  if (Array.isArray(value)) {
    // superjson copies an array's other own properties too, and may annotate them; such arrays go its way.
    if (Object.keys(value).length !== value.length) return undefined;
    let text = '[';
    for (let index = 0; index < value.length; index++) {
      const member = value[index] === undefined ? undefined : writePlain(value[index], seen);
      if (member === undefined) return undefined;
      text += index === 0 ? member : `,${member}`;
    }
    return `${text}]`;
  }
  const prototype = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return undefined;
  const record = value as Record<string, unknown>;
  const names = Object.keys(record).sort();
  let text = '{';
  for (let index = 0; index < names.length; index++) {
    const name = names[index]!;
    if (FORBIDDEN_KEYS.has(name)) return undefined;
    const member = writePlain(record[name], seen);
    if (member === undefined) return undefined;
    text += `${index === 0 ? '' : ','}${JSON.stringify(name)}:${member}`;
  }
  return `${text}}`;
}
