import { integer, literal } from './literal.js';
import type { SchemaNames } from './names.js';

/** A prepared statement: pg parses it once per connection under its name. */
export interface NamedStatement {
  name: string;
  text: string;
}

/**
 * The one statement behind each store call. Each calls one function of the schema (schema.ts says what
 * each does and answers), so every call is one round trip and one atomic step.
 */
export interface Statements {
  /** $1 record key, $2 fingerprint, $3 token, $4 lease ms, $5 retention ms → one row (r_status, r_fence, ...). */
  claim: NamedStatement;
  /** $1 record key, $2 token, $3 outcome, $4 retention ms → `applied` boolean. */
  complete: NamedStatement;
  /** $1 record key, $2 token, $3 handler began → `applied` boolean. */
  release: NamedStatement;
  /** $1 record key, $2 token, $3 lease ms, $4 retention ms → `applied` boolean. */
  renewLease: NamedStatement;
}

export function statements(n: SchemaNames): Statements {
  const named = (call: string, text: string) => ({ name: `trpc_idem_${call}:${n.table}`, text });
  return {
    claim: named('claim', `SELECT * FROM ${n.claim}($1, $2, $3, $4, $5)`),
    complete: named('complete', `SELECT ${n.complete}($1, $2, $3, $4, false) AS applied`),
    release: named('release', `SELECT ${n.release}($1, $2, $3) AS applied`),
    renewLease: named('renew', `SELECT ${n.renewLease}($1, $2, $3, $4) AS applied`),
  };
}

/**
 * Claims in a transaction of its own and commits it, then opens the handler's transaction: one round
 * trip for what would otherwise be two (the claim, then BEGIN). The claim is the second of the four
 * results. The last BEGIN is left open whatever the claim answered; the caller rolls it back unless it
 * claimed.
 */
export function claimAndBeginSql(
  n: SchemaNames,
  r: { recordKey: string; fingerprint: string; token: string; leaseMs: number; retentionMs: number },
): string {
  const args = [
    literal(r.recordKey),
    literal(r.fingerprint),
    literal(r.token),
    integer(r.leaseMs),
    integer(r.retentionMs),
  ];
  return `BEGIN; SELECT * FROM ${n.claim}(${args.join(', ')}); COMMIT; BEGIN`;
}

/**
 * Completes the record inside the handler's transaction and commits both: one round trip. When the
 * lease is no longer this holder's, the function raises (schema.ts, LEASE_LOST_SQLSTATE), PostgreSQL
 * skips the COMMIT that follows, and the transaction must be rolled back.
 */
export function completeAndCommitSql(
  n: SchemaNames,
  r: { recordKey: string; token: string; outcome: string; retentionMs: number },
): string {
  return `SELECT ${n.complete}(${literal(r.recordKey)}, ${literal(r.token)}, ${literal(r.outcome)}, ${integer(r.retentionMs)}, true); COMMIT`;
}

/**
 * Rolls the handler's transaction back, then stores an outcome or releases the lease in a transaction
 * of its own: one round trip. Its second result is one row with `applied`.
 */
export function rollbackThenSql(
  n: SchemaNames,
  r: { recordKey: string; token: string },
  then: { outcome: string; retentionMs: number } | { handlerBegan: boolean },
): string {
  const lease = `${literal(r.recordKey)}, ${literal(r.token)}`;
  const call =
    'outcome' in then
      ? `${n.complete}(${lease}, ${literal(then.outcome)}, ${integer(then.retentionMs)}, false)`
      : `${n.release}(${lease}, ${then.handlerBegan ? 'true' : 'false'})`;
  return `ROLLBACK; SELECT ${call} AS applied`;
}
