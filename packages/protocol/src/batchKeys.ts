import { isValidIdempotencyKey } from './key.js';

/**
 * The request header that carries the keys of a batch (docs/protocol.md §1): a JSON object from each
 * keyed call's batch index (written in decimal) to its key, for example `{"0":"a1","2":"c3"}`.
 */
export const IDEMPOTENCY_BATCH_KEYS_HEADER = 'Idempotency-Batch-Keys';

/** The keys of a batch by batch index, as {@link parseBatchKeys} reads them. */
export type ParsedBatchKeys = { ok: true; keys: ReadonlyMap<number, string> } | { ok: false; message: string };

/** Writes the batch keys header's value; `keys[i]` is the key of the call at batch index `i`, if any. */
export function formatBatchKeys(keys: ReadonlyArray<string | undefined>): string | undefined {
  const entries: Record<string, string> = {};
  let any = false;
  keys.forEach((key, index) => {
    if (key === undefined) return;
    entries[String(index)] = key;
    any = true;
  });
  return any ? JSON.stringify(entries) : undefined;
}

/**
 * Reads the batch keys header. Anything but a JSON object from whole numbers to valid keys is refused
 * whole, since the server could not tell which call a key was meant for.
 */
export function parseBatchKeys(value: string | readonly string[]): ParsedBatchKeys {
  const text = typeof value === 'string' ? value : value.length === 1 ? value[0]! : undefined;
  const refused = {
    ok: false,
    message: `The ${IDEMPOTENCY_BATCH_KEYS_HEADER} header must be one JSON object from batch index to key.`,
  } as const;
  if (text === undefined) return refused;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return refused;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return refused;
  const keys = new Map<number, string>();
  for (const [index, key] of Object.entries(parsed)) {
    if (!/^(0|[1-9][0-9]{0,5})$/.test(index) || typeof key !== 'string' || !isValidIdempotencyKey(key)) return refused;
    keys.set(Number(index), key);
  }
  return { ok: true, keys };
}
