import type { Pool, PoolClient } from 'pg';
import { PostgresStoreSetupError } from './errors.js';
import { DEFAULT_TABLE, type SchemaNames, schemaNames } from './names.js';
import { SCHEMA_VERSION, schemaSql } from './schema.js';

/** Serializes createSchema() calls of several processes starting at once (CREATE TABLE IF NOT EXISTS can race). */
const SCHEMA_LOCK = 7_406_130_529;

/**
 * Creates the table, index and functions PostgresStore needs, or brings an older version up to date.
 * Safe to run on every start and from several processes at once. Run it with a role that may create
 * tables; the store itself needs only SELECT, INSERT, UPDATE, DELETE on the table and EXECUTE on the
 * functions. The same SQL is shipped as `sql/trpc_idempotency.sql` for migration tools.
 *
 * @example
 * const pool = new Pool({ connectionString: process.env.DATABASE_URL });
 * await createSchema(pool); // or: await createSchema(pool, { table: 'app.idempotency' })
 */
export async function createSchema(pool: Pool | PoolClient, options: { table?: string } = {}): Promise<void> {
  const sql = schemaSql(options);
  const client = 'release' in pool ? pool : await pool.connect();
  try {
    await client.query(`BEGIN; SELECT pg_advisory_xact_lock(${SCHEMA_LOCK}); ${sql}; COMMIT`);
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    if (client !== pool) (client as PoolClient).release();
  }
}

/**
 * Checks that the database can be reached and holds the schema this package needs, with two small
 * reads. Throws a {@link PostgresStoreSetupError} that says what to do.
 */
export async function checkSchema(pool: Pool, table: string = DEFAULT_TABLE): Promise<void> {
  const names = schemaNames(table);
  let found: { has_table: boolean; has_version: boolean; version: number | null };
  try {
    const { rows } = await pool.query<{ has_table: boolean; has_version: boolean }>(
      'SELECT to_regclass($1) IS NOT NULL AS has_table, to_regprocedure($2) IS NOT NULL AS has_version',
      [names.table, `${names.schemaVersion}()`],
    );
    found = { ...rows[0]!, version: null };
    if (found.has_version) {
      const version = await pool.query<{ version: number }>(`SELECT ${names.schemaVersion}() AS version`);
      found.version = version.rows[0]!.version;
    }
  } catch (error) {
    throw new PostgresStoreSetupError(
      'CONNECTION_FAILED',
      `PostgresStore could not use the database: ${describe(error)}. Check the connection settings (DATABASE_URL: host, port, user, password, database).`,
      { cause: error },
    );
  }
  throwIfUnusable(names, found);
}

function throwIfUnusable(names: SchemaNames, found: { has_table: boolean; version: number | null }): void {
  const fix = `Run createSchema(pool${names.table === DEFAULT_TABLE ? '' : `, { table: '${names.table}' }`}) from @trpc-idempotency/postgres once (or the SQL of schemaSql()), with a role that may create tables.`;
  if (!found.has_table) {
    throw new PostgresStoreSetupError(
      'SCHEMA_MISSING',
      `PostgresStore: the table ${names.table} does not exist. ${fix}`,
    );
  }
  if (found.version === null || found.version < SCHEMA_VERSION) {
    throw new PostgresStoreSetupError(
      'SCHEMA_OUTDATED',
      `PostgresStore: the table ${names.table} has schema version ${found.version ?? 'none'}, and this package needs version ${SCHEMA_VERSION}. ${fix} It brings an older schema up to date.`,
    );
  }
  if (found.version > SCHEMA_VERSION) {
    throw new PostgresStoreSetupError(
      'SCHEMA_NEWER',
      `PostgresStore: the table ${names.table} has schema version ${found.version}, newer than the version ${SCHEMA_VERSION} this package knows. Upgrade @trpc-idempotency/postgres.`,
    );
  }
}

/** pg's message, with the SQLSTATE or errno code when there is one; never the connection string. */
export function describe(error: unknown): string {
  // Node reports a refused connection to a name with several addresses as an AggregateError without a message.
  const inner = error instanceof AggregateError && error.errors.length > 0 ? error.errors[0] : error;
  const { message, code } = (inner ?? {}) as { message?: string; code?: string };
  const text = message || String(inner) || 'unknown error';
  return code ? `${text} (${code})` : text;
}
