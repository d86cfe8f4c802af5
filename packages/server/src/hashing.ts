import { createHash } from 'node:crypto';
import { canonicalJson, withoutAliasing } from '@trpc-idempotency/protocol';
import type { Serializer } from './outcome.js';

function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * Names a record by hashing its four parts, wrapped in a Cluster hash tag. The raw client key never
 * reaches the store, so braces, colons or long values in a key cannot move or collide records.
 */
export function recordKeyFor(namespace: string, scope: string, path: string, key: string): string {
  return `{${sha256Hex(canonicalJson([namespace, scope, path, key]))}}`;
}

/** SHA-256 over the canonical JSON of the input, serialized first so that Dates, Maps and BigInts count. */
export function fingerprintInput(serializer: Serializer, input: unknown): string {
  return sha256Hex(canonicalJson(input === undefined ? null : withoutAliasing(serializer.serialize(input))));
}
