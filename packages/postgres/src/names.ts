/** The names of the table, index and functions of one PostgresStore schema, all derived from the table's name. */
export interface SchemaNames {
  /** The table, as written in SQL: `trpc_idempotency` or `app.trpc_idempotency`. */
  table: string;
  /** The index on `expires_at` that finds expired rows; an index lives in its table's schema. */
  expiresIndex: string;
  claim: string;
  complete: string;
  release: string;
  renewLease: string;
  schemaVersion: string;
  /**
   * The channel on which completions and releases are announced (`pg_notify`, payload the record key) to
   * the waiting duplicates of every process that `LISTEN`s (docs/protocol.md §3). One per table.
   */
  notifyChannel: string;
}

/** The default table name. */
export const DEFAULT_TABLE = 'trpc_idempotency';

const IDENTIFIER = /^[a-z_][a-z0-9_]*$/;
/** Short enough that every derived name, and a prepared statement name built from it, fits in 63 bytes. */
const MAX_TABLE_LENGTH = 40;

/**
 * Checks a table name (optionally schema-qualified) and derives every other name from it. Only plain
 * lower-case identifiers are accepted, so that no name ever needs quoting and none can carry SQL.
 */
export function schemaNames(table: string = DEFAULT_TABLE): SchemaNames {
  const parts = typeof table === 'string' ? table.split('.') : [];
  const valid = parts.length >= 1 && parts.length <= 2 && parts.every((part) => IDENTIFIER.test(part));
  if (!valid || table.length > MAX_TABLE_LENGTH) {
    throw new TypeError(
      'PostgresStore option "table" must be a lower-case SQL identifier, at most 40 characters in all ' +
        '(letters, digits, _), optionally schema-qualified, such as "trpc_idempotency" or "app.trpc_idempotency".',
    );
  }
  const fn = (suffix: string) => `${table}_${suffix}`;
  return {
    table,
    expiresIndex: `${parts[parts.length - 1]}_expires_at`,
    claim: fn('claim'),
    complete: fn('complete'),
    release: fn('release'),
    renewLease: fn('renew_lease'),
    schemaVersion: fn('schema_version'),
    notifyChannel: fn('changes'),
  };
}
