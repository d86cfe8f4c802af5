import { integer, literal } from './literal.js';
import type { SchemaNames } from './names.js';

/** A prepared statement: pg parses it once per connection under its name. */
export interface NamedStatement {
  name: string;
  text: string;
}

/**
 * The one statement behind each store call. Each calls one function of the schema (schema.ts says what
 * each does and answers), so every call is one round trip and one atomic step. A completion or release
 * that applied also announces the record key on the table's channel (`pg_notify`, delivered at commit), so
 * that duplicates waiting in any process wake (docs/protocol.md §3). The announcement is in the statement,
 * not in the functions, so the schema stays at its version.
 */
export interface Statements {
  /** $1 record key, $2 fingerprint, $3 token, $4 lease ms, $5 retention ms → one row (r_status, r_fence, ...). */
  claim: NamedStatement;
  /** $1 record key, $2 token, $3 outcome, $4 retention ms → `applied` boolean; announced when applied. */
  complete: NamedStatement;
  /** $1 record key, $2 token, $3 handler began → `applied` boolean; announced when applied. */
  release: NamedStatement;
  /** $1 record key, $2 token, $3 lease ms, $4 retention ms → `applied` boolean. */
  renewLease: NamedStatement;
}

export function statements(n: SchemaNames): Statements {
  const named = (call: string, text: string) => ({ name: `trpc_idem_${call}:${n.table}`, text });
  return {
    claim: named('claim', `SELECT * FROM ${n.claim}($1, $2, $3, $4, $5)`),
    complete: named('complete', announced(n, `${n.complete}($1, $2, $3, $4, false)`, '$1')),
    release: named('release', announced(n, `${n.release}($1, $2, $3)`, '$1')),
    renewLease: named('renew', `SELECT ${n.renewLease}($1, $2, $3, $4) AS applied`),
  };
}

/**
 * Runs `call` (a function answering whether it applied) once, and announces `recordKey` on the table's
 * channel when it did. A CTE with a volatile function is never inlined, so the call runs exactly once.
 */
function announced(n: SchemaNames, call: string, recordKey: string): string {
  return `WITH c AS (SELECT ${call} AS applied) SELECT applied, CASE WHEN applied THEN pg_notify('${n.notifyChannel}', ${recordKey}) END AS announced FROM c`;
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
 * lease is no longer this holder's, the function raises (schema.ts, LEASE_LOST_SQLSTATE), the statement
 * fails with its announcement, PostgreSQL skips the COMMIT that follows, and the transaction must be
 * rolled back. The announcement rides in the same SELECT (one statement, not two) and is delivered with
 * the commit, never before.
 */
export function completeAndCommitSql(
  n: SchemaNames,
  r: { recordKey: string; token: string; outcome: string; retentionMs: number },
): string {
  const key = literal(r.recordKey);
  return `SELECT ${n.complete}(${key}, ${literal(r.token)}, ${literal(r.outcome)}, ${integer(r.retentionMs)}, true), pg_notify('${n.notifyChannel}', ${key}); COMMIT`;
}

/**
 * Rolls the handler's transaction back, then stores an outcome or releases the lease in a transaction
 * of its own, announced when it applied: one round trip. Its second result is one row with `applied`.
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
  return `ROLLBACK; ${announced(n, call, literal(r.recordKey))}`;
}
