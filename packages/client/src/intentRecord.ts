import { isValidIdempotencyKey } from '@trpc-idempotency/protocol';

/** What an intent keeps in storage: its key and a count that grows with every new key. */
export interface IntentRecord {
  key: string;
  /**
   * Grows by one with each new key. Tabs learn of a change by several paths (storage, messages) in any
   * order; the record with the larger count wins, so every tab ends up on the same key.
   */
  n: number;
}

/** A call that was sent, or paused, and had not ended: kept so that the next page load resumes it. */
export interface PendingCall {
  key: string;
  /** The input as the intent's serializer wrote it. */
  input: unknown;
  /** When the call started (ms since the epoch). */
  startedAt: number;
}

/** A pending call older than this is not resumed: the server has forgotten its key by then. */
export const PENDING_CALL_MAX_AGE_MS = 24 * 60 * 60 * 1000;

/** Reads a stored record: JSON `{ key, n }`, or a bare key as earlier versions stored it. */
export function parseIntentRecord(text: string | null | undefined): IntentRecord | undefined {
  if (typeof text !== 'string' || text === '') return undefined;
  if (text.startsWith('{')) {
    try {
      const { key, n } = JSON.parse(text) as { key?: unknown; n?: unknown };
      if (typeof key === 'string' && isValidIdempotencyKey(key) && Number.isInteger(n) && (n as number) >= 0) {
        return { key, n: n as number };
      }
    } catch {
      // Not ours: treated as no record.
    }
    return undefined;
  }
  return isValidIdempotencyKey(text) ? { key: text, n: 0 } : undefined;
}

export function formatIntentRecord(record: IntentRecord): string {
  return JSON.stringify({ key: record.key, n: record.n });
}

/** The later of two records; on a tie of counts (two tabs rotated at once), the larger key, so all tabs agree. */
export function laterRecord(a: IntentRecord | undefined, b: IntentRecord | undefined): IntentRecord | undefined {
  if (!a) return b;
  if (!b) return a;
  if (a.n !== b.n) return a.n > b.n ? a : b;
  return a.key >= b.key ? a : b;
}

/** Reads the stored pending calls, leaving out malformed and stale ones. */
export function parsePendingCalls(text: string | null | undefined, now: number): PendingCall[] {
  if (typeof text !== 'string' || text === '') return [];
  try {
    const list = JSON.parse(text) as unknown;
    if (!Array.isArray(list)) return [];
    return list.filter(
      (call): call is PendingCall =>
        typeof call === 'object' &&
        call !== null &&
        typeof call.key === 'string' &&
        isValidIdempotencyKey(call.key) &&
        typeof call.startedAt === 'number' &&
        now - call.startedAt < PENDING_CALL_MAX_AGE_MS,
    );
  } catch {
    return [];
  }
}
