import { hash } from 'node:crypto';
import { TRPCError } from '@trpc/server';
import { canonicalJson, withoutAliasing } from '@trpc-idempotency/protocol';
import type { Serializer } from './outcome.js';
import { plainInputText } from './plainInputText.js';
import { checkInputSize, type SizeLimits } from './sizeLimits.js';

// One-shot `crypto.hash` (Node 20.12+) makes no Hash object: the same digest for less per-request work.
function sha256Hex(text: string): string {
  return hash('sha256', text, 'hex');
}

const NULL_FINGERPRINT = sha256Hex('null');

/**
 * Names a record by hashing its four parts, wrapped in a Cluster hash tag. The raw client key never
 * reaches the store, so braces, colons or long values in a key cannot move or collide records.
 */
export function recordKeyFor(namespace: string, scope: string, path: string, key: string): string {
  // canonicalJson of an array of strings is JSON.stringify's text: the same record names, a shorter path.
  return `{${sha256Hex(JSON.stringify([namespace, scope, path, key]))}}`;
}

/**
 * SHA-256 over the canonical JSON of the input, serialized first so that Dates, Maps and BigInts count.
 * `checkSize` sees that JSON first, and may refuse it (413 `INPUT_TOO_LARGE`) before anything is hashed or stored.
 * A plain JSON input with superjson has its text written without the serializer's walk (plainInputText.ts): the same text.
 */
export function fingerprintInput(
  serializer: Serializer,
  input: unknown,
  checkSize?: { limits: SizeLimits; emit: (event: { type: 'inputTooLarge'; bytes: number }) => void },
): string {
  if (input === undefined) return NULL_FINGERPRINT;
  const text = plainInputText(serializer, input) ?? serializedInputText(serializer, input);
  if (checkSize) checkInputSize(checkSize.limits, text, checkSize.emit);
  return sha256Hex(text);
}

/** The canonical JSON of the input as the serializer writes it. */
function serializedInputText(serializer: Serializer, input: unknown): string {
  let serialized: unknown;
  try {
    serialized = withoutAliasing(serializer.serialize(input));
  } catch {
    // superjson refuses to write keys such as "__proto__", "constructor" or "prototype", which a
    // client can still send inside a JSON input (the hostile-input reliability scenario found a 500
    // here). Fingerprint such an input as it is, wrapped so that it can never equal a serialized one.
    serialized = { unserializable: input };
  }
  try {
    return canonicalJson(serialized);
  } catch {
    throw new TRPCError({ code: 'BAD_REQUEST', message: 'This input cannot be fingerprinted for idempotency.' });
  }
}
