import { canonicalJson, withoutAliasing } from '@trpc-idempotency/protocol';
import { v4 as uuidv4 } from 'uuid';

/**
 * A random key for one intent: a version 4 UUID from a CSPRNG. The `uuid` package is used rather than
 * `crypto.randomUUID`, which browsers leave out of pages served over plain HTTP.
 *
 * @example
 * client.orders.create.mutate(input, { context: { idempotencyKey: randomIdempotencyKey() } });
 */
export function randomIdempotencyKey(): string {
  return uuidv4();
}

/** The parts a derived key is made of (docs/protocol.md §1). */
export interface DeriveKeyParts {
  /** Who is acting: the same input from two users is two intents. */
  user: string;
  /** The procedure path, for example `orders.create`. */
  path: string;
  /** The input after the app's transformer serialized it (for superjson, `{ json, meta }`). */
  serializedInput: unknown;
}

/**
 * Derives a key from what the call is: hex SHA-256 over `canonicalJson([user, path, serializedInput])`.
 * Equal inputs give equal keys whatever order their object keys were written in. Uses Web Crypto, so it
 * runs in browsers (secure contexts) and in Node 20+.
 *
 * @example
 * await deriveIdempotencyKey({ user: 'ann', path: 'orders.create', serializedInput: superjson.serialize(input) });
 */
export async function deriveIdempotencyKey(parts: DeriveKeyParts): Promise<string> {
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) {
    throw new TypeError(
      "key: 'derive' needs Web Crypto (crypto.subtle), which browsers give only to secure contexts (https or localhost).",
    );
  }
  const text = canonicalJson([parts.user, parts.path, withoutAliasing(parts.serializedInput ?? null)]);
  const digest = await subtle.digest('SHA-256', new TextEncoder().encode(text));
  return toHex(new Uint8Array(digest));
}

function toHex(bytes: Uint8Array): string {
  let hex = '';
  for (const byte of bytes) hex += byte.toString(16).padStart(2, '0');
  return hex;
}
