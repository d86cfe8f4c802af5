import type { ClaimRequest, ClaimResult } from '@trpc-idempotency/server';
import { RECORD_STATES } from '@trpc-idempotency/server';
import type Database from 'better-sqlite3';
import type { SchemaNames } from './names.js';
import { SWEEP_BATCH } from './schema.js';

const { in_progress: P, completed: C, released: R } = RECORD_STATES;

/** One row of the records' table. */
export interface RecordRow {
  state: string;
  fingerprint: string;
  input_bound: number;
  token: string;
  fence: number;
  claimed_at: number;
  lease_expires_at: number | null;
  outcome: string | null;
  expires_at: number;
}

type Stmt<P extends unknown[] = unknown[], R = unknown> = Database.Statement<P, R>;

/** The prepared statements of one connection. Every time parameter is ms since the epoch. */
export interface Statements {
  /** key → the row, expired or not. */
  read: Stmt<[string], RecordRow>;
  /** Writes the claim's row, new or over an old one. */
  upsert: Stmt<[Record<string, unknown>]>;
  /** now → deletes up to SWEEP_BATCH expired rows. */
  sweep: Stmt<[number]>;
  /** Stores an outcome if the token holds the record. */
  complete: Stmt<[{ key: string; token: string; outcome: string; expires: number; now: number }]>;
  /** The same, only if the lease is also live. */
  completeLive: Stmt<[{ key: string; token: string; outcome: string; expires: number; now: number }]>;
  /** key, token, now → 1 if this token already completed the record. */
  completedBy: Stmt<[string, string, number], number>;
  /** Releases the lease if the token holds it; `began` 1 binds the key to the input. */
  release: Stmt<[{ key: string; token: string; began: number; now: number }]>;
  /** key, token, now → 1 if this token already released the record. */
  releasedBy: Stmt<[string, string, number], number>;
  /** Moves the lease's end to `lease`, and retention to at least `expires`. */
  renew: Stmt<[{ key: string; token: string; lease: number; expires: number; now: number }]>;
}

/** The text of the statements that change a held record, also run on a handler's own connection. */
export function leaseSql(n: SchemaNames): { complete: string; completeLive: string; release: string; renew: string } {
  const t = n.table;
  const held = `record_key = @key AND token = @token AND state = '${P}' AND expires_at > @now`;
  const complete = `UPDATE ${t} SET state = '${C}', outcome = @outcome, lease_expires_at = NULL, expires_at = @expires WHERE ${held}`;
  return {
    complete,
    completeLive: `${complete} AND lease_expires_at > @now`,
    release: `UPDATE ${t} SET state = '${R}', input_bound = max(input_bound, @began), lease_expires_at = NULL WHERE ${held}`,
    renew: `UPDATE ${t} SET lease_expires_at = @lease, expires_at = max(expires_at, @expires) WHERE ${held}`,
  };
}

/** Prepares the statements of the store's calls on one connection. */
export function prepare(db: Database.Database, n: SchemaNames): Statements {
  const t = n.table;
  const lease = leaseSql(n);
  const by = (state: string) =>
    db
      .prepare(`SELECT 1 FROM ${t} WHERE record_key = ? AND token = ? AND state = '${state}' AND expires_at > ?`)
      .pluck() as Stmt<[string, string, number], number>;
  return {
    read: db.prepare(
      `SELECT state, fingerprint, input_bound, token, fence, claimed_at, lease_expires_at, outcome, expires_at FROM ${t} WHERE record_key = ?`,
    ),
    upsert: db.prepare(
      `INSERT INTO ${t} (record_key, state, fingerprint, input_bound, token, fence, claimed_at, lease_expires_at, outcome, expires_at)
       VALUES (@key, '${P}', @fingerprint, @bound, @token, @fence, @now, @lease, NULL, @expires)
       ON CONFLICT (record_key) DO UPDATE SET state = '${P}', fingerprint = excluded.fingerprint,
         input_bound = excluded.input_bound, token = excluded.token, fence = excluded.fence,
         claimed_at = excluded.claimed_at, lease_expires_at = excluded.lease_expires_at, outcome = NULL,
         expires_at = excluded.expires_at`,
    ),
    sweep: db.prepare(
      `DELETE FROM ${t} WHERE record_key IN (SELECT record_key FROM ${t} WHERE expires_at <= ? ORDER BY expires_at LIMIT ${SWEEP_BATCH})`,
    ),
    complete: db.prepare(lease.complete),
    completeLive: db.prepare(lease.completeLive),
    completedBy: by(C),
    release: db.prepare(lease.release),
    releasedBy: by(R),
    renew: db.prepare(lease.renew),
  };
}

/** What a claim found: an answer without writing, or the row to write. */
export type ClaimStep = { answer: ClaimResult } | { write: { bound: boolean; fence: number } };

/**
 * Decides a claim on the row as read at `now`, the way PostgresStore's claim function does. A row whose
 * retention ended counts as absent.
 */
export function decide(row: RecordRow | undefined, request: ClaimRequest, now: number): ClaimStep {
  if (row === undefined || row.expires_at <= now) return { write: { bound: false, fence: 0 } };
  if (row.state === P && row.token === request.token) return { answer: { status: 'claimed', fence: row.fence } };
  if (!(row.state === R && row.input_bound === 0) && row.fingerprint !== request.fingerprint) {
    return { answer: { status: 'mismatch' } };
  }
  if (row.state === C) return { answer: { status: 'completed', outcome: row.outcome ?? '' } };
  const leaseEnds = row.lease_expires_at ?? 0;
  if (row.state === P && leaseEnds > now) {
    return {
      answer: {
        status: 'in_progress',
        leaseRemainingMs: Math.ceil(leaseEnds - now),
        heldForMs: Math.max(0, Math.floor(now - row.claimed_at)),
      },
    };
  }
  // A lease that ran out may have run the handler; a released row says whether one did.
  return { write: { bound: row.state === P || row.input_bound === 1, fence: row.fence } };
}

/**
 * The claim, to run inside a write transaction: read the row, decide, and when it claims, write the row
 * and delete up to SWEEP_BATCH expired rows.
 */
export function claimIn(s: Statements, request: ClaimRequest, now: number): ClaimResult {
  const step = decide(s.read.get(request.recordKey), request, now);
  if ('answer' in step) return step.answer;
  const fence = step.write.fence + 1;
  s.upsert.run({
    key: request.recordKey,
    fingerprint: request.fingerprint,
    bound: step.write.bound ? 1 : 0,
    token: request.token,
    fence,
    now,
    lease: now + request.leaseMs,
    expires: now + request.retentionMs,
  });
  s.sweep.run(now);
  return { status: 'claimed', fence };
}
