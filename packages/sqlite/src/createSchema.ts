import Database from 'better-sqlite3';
import { describe, SqliteStoreSetupError } from './errors.js';
import { DEFAULT_TABLE, type SchemaNames, schemaNames } from './names.js';
import { SCHEMA_VERSION, schemaSql } from './schema.js';

/** How the store's connections write: `full` syncs every commit to disk, `normal` only at checkpoints. */
export type Synchronous = 'full' | 'normal';

/**
 * Opens a connection on the file in WAL mode, with a busy timeout for the locks of other processes.
 * Throws a {@link SqliteStoreSetupError} `OPEN_FAILED` that names the file and SQLite's reason.
 */
export function openDatabase(
  filename: string,
  options: { busyTimeoutMs: number; synchronous: Synchronous; check?: boolean },
): Database.Database {
  let db: Database.Database | undefined;
  try {
    db = new Database(filename, { timeout: options.busyTimeoutMs });
    if (options.check !== false) {
      // Setting WAL writes the file's header: a read-only file, or one that is not a database, fails here.
      const mode = db.pragma('journal_mode = WAL', { simple: true });
      if (mode !== 'wal') throw new Error(`the file stays in journal mode "${String(mode)}", not WAL`);
    }
    db.pragma(`synchronous = ${options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
    return db;
  } catch (error) {
    db?.close();
    throw new SqliteStoreSetupError(
      'OPEN_FAILED',
      `SqliteStore could not open ${JSON.stringify(filename)} as a SQLite database in WAL mode: ${describe(error)}. ` +
        'Check that its directory exists, that it is a SQLite database (or absent: it is then created), and that this process may write both.',
      { cause: error },
    );
  }
}

/**
 * Creates the table, index and version row SqliteStore needs in the file (created if absent, and put in
 * WAL mode), or brings an older version up to date. Safe to run on every start and from several processes
 * at once. Takes a file name, or a better-sqlite3 Database of your own (it is left open). The same SQL is
 * shipped as `sql/trpc_idempotency.sql` for migration tools.
 *
 * @example
 * createSchema('data/app.db'); // or: createSchema(db, { table: 'idempotency' })
 */
export function createSchema(target: string | Database.Database, options: { table?: string } = {}): void {
  const sql = schemaSql(options);
  const db = typeof target === 'string' ? openDatabase(target, { busyTimeoutMs: 5000, synchronous: 'full' }) : target;
  try {
    db.transaction(() => db.exec(sql)).immediate();
  } finally {
    if (db !== target) db.close();
  }
}

/**
 * Checks that the file holds the schema this package needs, with one small read. Throws a
 * {@link SqliteStoreSetupError} that says what to do.
 */
export function checkSchema(db: Database.Database, table: string = DEFAULT_TABLE): void {
  const names = schemaNames(table);
  let found: { hasTable: boolean; version: number | null };
  try {
    const tables = db
      .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name IN (?, ?)")
      .pluck()
      .all(names.table, names.schemaTable) as string[];
    found = { hasTable: tables.includes(names.table), version: null };
    if (tables.includes(names.schemaTable)) {
      const version = db.prepare(`SELECT version FROM ${names.schemaTable} WHERE id = 1`).pluck().get();
      found.version = typeof version === 'number' ? version : null;
    }
  } catch (error) {
    throw new SqliteStoreSetupError('OPEN_FAILED', `SqliteStore could not read the database: ${describe(error)}.`, {
      cause: error,
    });
  }
  throwIfUnusable(names, found);
}

function throwIfUnusable(names: SchemaNames, found: { hasTable: boolean; version: number | null }): void {
  const fix = `Run createSchema(filename${names.table === DEFAULT_TABLE ? '' : `, { table: '${names.table}' }`}) from @trpc-idempotency/sqlite once (or the SQL of schemaSql()).`;
  if (!found.hasTable) {
    throw new SqliteStoreSetupError('SCHEMA_MISSING', `SqliteStore: the table ${names.table} does not exist. ${fix}`);
  }
  if (found.version === null || found.version < SCHEMA_VERSION) {
    throw new SqliteStoreSetupError(
      'SCHEMA_OUTDATED',
      `SqliteStore: the table ${names.table} has schema version ${found.version ?? 'none'}, and this package needs version ${SCHEMA_VERSION}. ${fix} It brings an older schema up to date.`,
    );
  }
  if (found.version > SCHEMA_VERSION) {
    throw new SqliteStoreSetupError(
      'SCHEMA_NEWER',
      `SqliteStore: the table ${names.table} has schema version ${found.version}, newer than the version ${SCHEMA_VERSION} this package knows. Upgrade @trpc-idempotency/sqlite.`,
    );
  }
}
