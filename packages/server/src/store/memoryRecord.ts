import { hash } from 'node:crypto';
import { RECORD_STATES, type RecordState } from './types.js';

/** One MemoryStore record, read out of its stored form. */
export interface MemoryRecord {
  state: RecordState;
  /** Whether a handler may have run with `fingerprint`; until then another input may claim a released record. */
  inputBound: boolean;
  fence: number;
  claimedAt: number;
  leaseExpiresAt: number;
  expiresAt: number;
  /** The holder's token, in its {@link compactId} form. */
  token: string;
  /** The input's fingerprint, in its {@link compactId} form. */
  fingerprint: string;
  outcome: string;
}

const STATE_OF_CODE = new Map<string, RecordState>(
  Object.entries(RECORD_STATES).map(([state, code]) => [code, state as RecordState]),
);

/**
 * A record's name in the store's Map: the 32 bytes of SHA-256 over the record key, as a one-byte string.
 * The middleware's record keys are already hashes, 66 characters long; this halves what each one keeps.
 */
export function compactRecordKey(recordKey: string): string {
  return hash('sha256', recordKey, 'binary');
}

const HEX_64 = /^[0-9a-f]{64}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * A fingerprint or token in fewer bytes: a hex SHA-256 or a UUID becomes its raw bytes, anything else
 * stays as it is. A one-letter tag tells the three forms apart, so two different ids never compact alike.
 */
export function compactId(id: string): string {
  if (id.length === 64 && HEX_64.test(id)) return `h${Buffer.from(id, 'hex').toString('latin1')}`;
  if (id.length === 36 && UUID.test(id)) return `u${Buffer.from(id.replaceAll('-', ''), 'hex').toString('latin1')}`;
  return `s${id}`;
}

/**
 * Writes a record as one string. 100,000 records with 200-byte outcomes are then 100,000 strings rather
 * than 100,000 objects with five strings and three boxed numbers each: less heap, and much less for the
 * garbage collector to walk. Layout: state code, input-bound flag, then `fence,claimedAt,leaseExpiresAt,
 * expiresAt,tokenLength,fingerprintLength,` and token, fingerprint and outcome one after the other.
 */
export function writeMemoryRecord(record: MemoryRecord): string {
  const code = RECORD_STATES[record.state];
  // Only a live lease needs its times; a completed or released record keeps its expiry alone.
  const lease = record.state === 'in_progress' ? `${record.claimedAt},${record.leaseExpiresAt}` : '0,0';
  // Array.join builds one flat string; `+` or a template would build a rope that keeps every part alive.
  return [
    code,
    record.inputBound ? '1' : '0',
    // The expiry, kept for a day, is rounded up to a whole ms: 8 bytes less per record, never earlier.
    `${record.fence},${lease},${Math.ceil(record.expiresAt)},${record.token.length},${record.fingerprint.length},`,
    record.token,
    record.fingerprint,
    record.outcome,
  ].join('');
}

/** Reads a record that {@link writeMemoryRecord} wrote. */
export function readMemoryRecord(text: string): MemoryRecord {
  let at = 2;
  const numbers: number[] = [];
  for (let field = 0; field < 6; field++) {
    const comma = text.indexOf(',', at);
    numbers.push(Number(text.slice(at, comma)));
    at = comma + 1;
  }
  const [fence, claimedAt, leaseExpiresAt, expiresAt, tokenLength, fingerprintLength] = numbers as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const fingerprintAt = at + tokenLength;
  const outcomeAt = fingerprintAt + fingerprintLength;
  return {
    state: STATE_OF_CODE.get(text[0]!)!,
    inputBound: text[1] === '1',
    fence,
    claimedAt,
    leaseExpiresAt,
    expiresAt,
    token: text.slice(at, fingerprintAt),
    fingerprint: text.slice(fingerprintAt, outcomeAt),
    outcome: text.slice(outcomeAt),
  };
}

/** A record's expiry, read without reading the rest: the sweep looks at every record. */
export function memoryRecordExpiresAt(text: string): number {
  let at = 2;
  for (let field = 0; field < 3; field++) at = text.indexOf(',', at) + 1;
  return Number(text.slice(at, text.indexOf(',', at)));
}
