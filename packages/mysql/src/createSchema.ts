import type { Pool, PoolConnection } from 'mysql2/promise';
import { MySqlStoreSetupError } from './errors.js';
import { DEFAULT_TABLE, type SchemaNames, schemaNames } from './names.js';
import { SCHEMA_VERSION, schemaStatements } from './schema.js';

/** Serializes createSchema() calls of several processes starting at once (GET_LOCK is per server). */
const SCHEMA_LOCK = 'trpc_idempotency_schema';

/**
 * Creates the table and routines MySqlStore needs, or brings an older version up to date. Safe to run
 * on every start and from several processes at once (a named lock). Run it with a user that may create
 * tables and routines; the store itself needs only EXECUTE on the routines (which run with their
 * definer's rights). The same SQL is shipped as `sql/trpc_idempotency.sql` for migration tools.
 *
 * @example
 * const pool = mysql.createPool(process.env.DATABASE_URL);
 * await createSchema(pool); // or: await createSchema(pool, { table: 'app.idempotency' })
 */
export async function createSchema(pool: Pool | PoolConnection, options: { table?: string } = {}): Promise<void> {
  const statements = schemaStatements(options);
  const connection = 'release' in pool ? pool : await pool.getConnection();
  try {
    await connection.query('SELECT GET_LOCK(?, 30)', [SCHEMA_LOCK]);
    try {
      for (const statement of statements) await connection.query(statement);
    } finally {
      await connection.query('SELECT RELEASE_LOCK(?)', [SCHEMA_LOCK]).catch(() => {});
    }
  } finally {
    if (connection !== pool) connection.release();
  }
}

/**
 * Checks that the database can be reached and holds the schema this package needs, with two small
 * reads. Throws a {@link MySqlStoreSetupError} that says what to do.
 */
export async function checkSchema(pool: Pool, table: string = DEFAULT_TABLE): Promise<void> {
  const names = schemaNames(table);
  let found: { has_table: boolean; has_version: boolean; version: number | null };
  try {
    const [rows] = await pool.query(
      `SELECT
         EXISTS(SELECT 1 FROM information_schema.tables WHERE table_schema = COALESCE(?, DATABASE()) AND table_name = ?) AS has_table,
         EXISTS(SELECT 1 FROM information_schema.routines WHERE routine_schema = COALESCE(?, DATABASE())
                  AND routine_name = ? AND routine_type = 'FUNCTION') AS has_version`,
      [names.database ?? null, names.tableName, names.database ?? null, `${names.tableName}_schema_version`],
    );
    const row = (rows as Array<{ has_table: number; has_version: number }>)[0]!;
    found = { has_table: row.has_table === 1, has_version: row.has_version === 1, version: null };
    if (found.has_version) {
      const [version] = await pool.query(`SELECT ${names.schemaVersion}() AS version`);
      found.version = Number((version as Array<{ version: number }>)[0]!.version);
    }
  } catch (error) {
    throw new MySqlStoreSetupError(
      'CONNECTION_FAILED',
      `MySqlStore could not use the database: ${describe(error)}. Check the connection settings (DATABASE_URL: host, port, user, password, database).`,
      { cause: error },
    );
  }
  throwIfUnusable(names, found);
}

function throwIfUnusable(names: SchemaNames, found: { has_table: boolean; version: number | null }): void {
  const fix = `Run createSchema(pool${names.table === DEFAULT_TABLE ? '' : `, { table: '${names.table}' }`}) from @trpc-idempotency/mysql once (or the SQL of schemaSql()), with a user that may create tables and routines.`;
  if (!found.has_table) {
    throw new MySqlStoreSetupError('SCHEMA_MISSING', `MySqlStore: the table ${names.table} does not exist. ${fix}`);
  }
  if (found.version === null || found.version < SCHEMA_VERSION) {
    throw new MySqlStoreSetupError(
      'SCHEMA_OUTDATED',
      `MySqlStore: the table ${names.table} has schema version ${found.version ?? 'none'}, and this package needs version ${SCHEMA_VERSION}. ${fix} It brings an older schema up to date.`,
    );
  }
  if (found.version > SCHEMA_VERSION) {
    throw new MySqlStoreSetupError(
      'SCHEMA_NEWER',
      `MySqlStore: the table ${names.table} has schema version ${found.version}, newer than the version ${SCHEMA_VERSION} this package knows. Upgrade @trpc-idempotency/mysql.`,
    );
  }
}

/** mysql2's message, with the error code when there is one; never the connection string. */
export function describe(error: unknown): string {
  // Node reports a refused connection to a name with several addresses as an AggregateError without a message.
  const inner = error instanceof AggregateError && error.errors.length > 0 ? error.errors[0] : error;
  const { message, code } = (inner ?? {}) as { message?: string; code?: string };
  const text = message || String(inner) || 'unknown error';
  return code && !text.includes(code) ? `${text} (${code})` : text;
}
