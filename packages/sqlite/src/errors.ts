/** What went wrong when a SqliteStore opened and checked its database file. */
export type SqliteStoreSetupErrorCode =
  /**
   * The file could not be opened or written as a SQLite database in WAL mode: its directory is missing,
   * it is not a database, it is read-only, or the process may not write it.
   */
  | 'OPEN_FAILED'
  /** The table does not exist: run `createSchema(filename)` once, or the shipped SQL. */
  | 'SCHEMA_MISSING'
  /** The table exists but its schema is older than this package needs: run `createSchema(filename)` to bring it up to date. */
  | 'SCHEMA_OUTDATED'
  /** The schema is newer than this package: upgrade `@trpc-idempotency/sqlite`. */
  | 'SCHEMA_NEWER';

/**
 * Thrown by {@link SqliteStore.ready} when the database file cannot be used: at start-up, where it belongs,
 * and never as a 500 per request. Store calls made before the problem is fixed answer 503
 * `STORE_UNAVAILABLE` with this error as the cause.
 */
export class SqliteStoreSetupError extends Error {
  override readonly name = 'SqliteStoreSetupError';
  readonly code: SqliteStoreSetupErrorCode;

  constructor(code: SqliteStoreSetupErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/**
 * Thrown by a transaction's `commit` when the database refused the transaction itself (a statement of the
 * handler rolled it back, as SQLite does for `ON CONFLICT ROLLBACK`, a full disk or an I/O error, or the
 * handler ended it itself): nothing of it was committed by the store, and the lease was released.
 */
export class TransactionFailedError extends Error {
  override readonly name = 'TransactionFailedError';
}

/** better-sqlite3's message, with SQLite's extended result code when there is one. */
export function describe(error: unknown): string {
  const { message, code } = (error ?? {}) as { message?: string; code?: string };
  const text = message || String(error) || 'unknown error';
  return code ? `${text} (${code})` : text;
}
