/** The names of the tables and index of one SqliteStore schema, all derived from the table's name. */
export interface SchemaNames {
  /** The records' table: `trpc_idempotency` by default. */
  table: string;
  /** The index on `expires_at` that finds expired rows. */
  expiresIndex: string;
  /** A one-row table with the schema's version. */
  schemaTable: string;
}

/** The default table name. */
export const DEFAULT_TABLE = 'trpc_idempotency';

const IDENTIFIER = /^[a-z_][a-z0-9_]*$/;
const MAX_TABLE_LENGTH = 40;

/**
 * Checks a table name and derives the other names from it. Only plain lower-case identifiers are
 * accepted, so that no name ever needs quoting and none can carry SQL.
 */
export function schemaNames(table: string = DEFAULT_TABLE): SchemaNames {
  if (
    typeof table !== 'string' ||
    !IDENTIFIER.test(table) ||
    table.length > MAX_TABLE_LENGTH ||
    table.startsWith('sqlite_')
  ) {
    throw new TypeError(
      'SqliteStore option "table" must be a lower-case SQL identifier of at most 40 characters (letters, digits, _), ' +
        'not starting with sqlite_, such as "trpc_idempotency".',
    );
  }
  return { table, expiresIndex: `${table}_expires_at`, schemaTable: `${table}_schema` };
}
