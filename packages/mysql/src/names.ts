/** The names of the table and routines of one MySqlStore schema, all derived from the table's name. */
export interface SchemaNames {
  /** The table, as written in SQL: `trpc_idempotency` or `app.trpc_idempotency`. */
  table: string;
  /** The database part of a qualified name, or undefined for the connection's current database. */
  database: string | undefined;
  /** The table's name without its database. */
  tableName: string;
  claim: string;
  sweep: string;
  complete: string;
  commitComplete: string;
  release: string;
  renewLease: string;
  schemaVersion: string;
}

/** The default table name. */
export const DEFAULT_TABLE = 'trpc_idempotency';

const IDENTIFIER = /^[a-z_][a-z0-9_]*$/;
/** Short enough that every derived name fits in MySQL's 64 characters. */
const MAX_TABLE_LENGTH = 40;

/**
 * Checks a table name (optionally database-qualified) and derives every other name from it. Only plain
 * lower-case identifiers are accepted, so that no name ever needs quoting and none can carry SQL.
 */
export function schemaNames(table: string = DEFAULT_TABLE): SchemaNames {
  const parts = typeof table === 'string' ? table.split('.') : [];
  const valid = parts.length >= 1 && parts.length <= 2 && parts.every((part) => IDENTIFIER.test(part));
  if (!valid || table.length > MAX_TABLE_LENGTH) {
    throw new TypeError(
      'MySqlStore option "table" must be a lower-case SQL identifier, at most 40 characters in all ' +
        '(letters, digits, _), optionally database-qualified, such as "trpc_idempotency" or "app.trpc_idempotency".',
    );
  }
  const fn = (suffix: string) => `${table}_${suffix}`;
  return {
    table,
    database: parts.length === 2 ? parts[0] : undefined,
    tableName: parts[parts.length - 1]!,
    claim: fn('claim'),
    sweep: fn('sweep'),
    complete: fn('complete'),
    commitComplete: fn('commit_complete'),
    release: fn('release'),
    renewLease: fn('renew_lease'),
    schemaVersion: fn('schema_version'),
  };
}
