/** What went wrong when a MySqlStore checked its database. */
export type MySqlStoreSetupErrorCode =
  /** The database could not be reached, or refused the connection (host, port, user, password, database name). */
  | 'CONNECTION_FAILED'
  /** The table does not exist: run `createSchema(pool)` once, or the shipped SQL. */
  | 'SCHEMA_MISSING'
  /** The table exists but its schema is older than this package needs: run `createSchema(pool)` to bring it up to date. */
  | 'SCHEMA_OUTDATED'
  /** The schema is newer than this package: upgrade `@trpc-idempotency/mysql`. */
  | 'SCHEMA_NEWER';

/**
 * Thrown by {@link MySqlStore.ready} when the database cannot be used: at start-up, where it belongs,
 * and never as a 500 per request. Store calls made before the problem is fixed answer 503
 * `STORE_UNAVAILABLE` with this error as the cause.
 */
export class MySqlStoreSetupError extends Error {
  override readonly name = 'MySqlStoreSetupError';
  readonly code: MySqlStoreSetupErrorCode;

  constructor(code: MySqlStoreSetupErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
