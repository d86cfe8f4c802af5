/*
 * The variants of `npm run bench:sql`: MySqlStore on MariaDB and SqliteStore, each against the same handler
 * writing its order row without idempotency, and what a correct request of each sends, exactly.
 */

/** The databases of the benchmark. */
export type SqlDatabase = 'mariadb' | 'sqlite';

/** The four variants every database runs, each in a server process of its own. */
export type VariantId = 'plain-write' | 'fresh' | 'replay' | 'tx-fresh';

/** One variant: the one procedure its server serves, and how the load generator keys its requests. */
export interface Variant {
  id: VariantId;
  label: string;
  /** The procedure of its server (sqlStoresRouter.ts). */
  path: 'plainWrite' | 'order' | 'orderTx';
  /** `none`: no idempotency; `fresh`: a new key per request; `replay`: one key completed beforehand. */
  keys: 'none' | 'fresh' | 'replay';
  /** Handler runs per request of a correct run. */
  handlerRunsPerRequest: 0 | 1;
}

/** In the order a round runs them; `plain-write` is the baseline of the other three. */
export const VARIANTS: readonly Variant[] = [
  {
    id: 'plain-write',
    label: 'plain write (no idempotency)',
    path: 'plainWrite',
    keys: 'none',
    handlerRunsPerRequest: 1,
  },
  { id: 'fresh', label: 'fresh key, handler writes its row', path: 'order', keys: 'fresh', handlerRunsPerRequest: 1 },
  { id: 'replay', label: 'replay (key completed before)', path: 'order', keys: 'replay', handlerRunsPerRequest: 0 },
  {
    id: 'tx-fresh',
    label: 'transaction: true, fresh key, row through ctx.idempotency.tx',
    path: 'orderTx',
    keys: 'fresh',
    handlerRunsPerRequest: 1,
  },
];

/** What MariaDB runs for one request, as counted by `SHOW GLOBAL STATUS`. */
export interface MariaDbExpected {
  /** Statements the server process sent (`Questions`): one per round trip here. */
  sent: number;
  /**
   * Statements MariaDB ran, those inside the stored procedures included, by `Com_*` counter. (`Queries`
   * is no use for this: it also counts every SET, IF and LEAVE of a stored program, 38 for one claim.)
   */
  run: Record<string, number>;
  /** Protocol commands the server process's mysql2 connections sent, each one round trip. */
  roundTrips: number;
}

/**
 * Read from packages/mysql/src (mysqlStore.ts, mysqlTransaction.ts, and the procedures of schema.ts); the
 * handler's INSERT is one `pool.query` (or `tx.query`) in autocommit (or in the handler's transaction).
 * - claim of a new key: CALL claim → START TRANSACTION, INSERT IGNORE, COMMIT, then CALL sweep →
 *   SET TRANSACTION ISOLATION LEVEL, START TRANSACTION, the cursor's SELECT … FOR UPDATE SKIP LOCKED (no
 *   expired rows here, so no DELETE), COMMIT; then the reply's SELECT. With `transaction: true` (p_begin) one
 *   more START TRANSACTION, left open for the handler.
 * - complete: CALL complete → START TRANSACTION, UPDATE, COMMIT, the reply's SELECT.
 * - commit of the handler's transaction: CALL commit_complete → UPDATE, COMMIT, the reply's SELECT.
 * - claim of a completed key (replay): CALL claim → START TRANSACTION, INSERT IGNORE (ignored), COMMIT,
 *   START TRANSACTION, SELECT … FOR UPDATE, COMMIT, the reply's SELECT.
 */
export const MARIADB_EXPECTED: Record<VariantId, MariaDbExpected> = {
  'plain-write': { sent: 1, run: { insert: 1 }, roundTrips: 1 },
  // CALL claim, INSERT, CALL complete
  fresh: {
    sent: 3,
    run: { call_procedure: 3, begin: 3, insert: 2, commit: 3, select: 3, set_option: 1, update: 1 },
    roundTrips: 3,
  },
  // CALL claim
  replay: { sent: 1, run: { call_procedure: 1, begin: 2, insert: 1, commit: 2, select: 2 }, roundTrips: 1 },
  // CALL claim(…, TRUE), INSERT inside the open transaction, CALL commit_complete
  'tx-fresh': {
    sent: 3,
    run: { call_procedure: 3, begin: 3, insert: 2, commit: 3, select: 3, set_option: 1, update: 1 },
    roundTrips: 3,
  },
};

/** What SQLite runs for one request, in the server's own process (no round trips). */
export interface SqliteExpected {
  /** Statements executed (better-sqlite3 run/get/all/iterate and exec), by kind and table. */
  run: Record<string, number>;
  /** Statements compiled (prepare, pragma) per request; the store prepares its own once per connection. */
  compiled: number;
  /** Connections opened and closed per request. */
  connections: number;
  /** Commits that wrote rows, each a sync of the WAL (synchronous = FULL); a replay writes nothing. */
  writeCommits: number;
}

/**
 * Read from packages/sqlite/src (sqliteStore.ts, sqliteTransaction.ts, statements.ts). With nothing else
 * running, the process's write lock is free, so a claim never takes the read-only shortcut
 * (#answerWithoutWriting) and always runs its `BEGIN IMMEDIATE` transaction:
 * - claim of a new key: BEGIN IMMEDIATE, SELECT the row, INSERT … ON CONFLICT (upsert), DELETE the expired
 *   (sweep), COMMIT;
 * - claim of a completed key (replay): BEGIN IMMEDIATE, SELECT the row, COMMIT (nothing written);
 * - complete: BEGIN IMMEDIATE, UPDATE, COMMIT;
 * - `transaction: true`: after the claim's transaction, a new connection (PRAGMA synchronous = FULL),
 *   exec BEGIN IMMEDIATE, the handler's INSERT (prepared on that connection), the completion's UPDATE
 *   (prepared), exec COMMIT, and the connection is closed.
 * The handler's INSERT outside a transaction runs on the app's own connection, prepared once.
 */
export const SQLITE_EXPECTED: Record<VariantId, SqliteExpected> = {
  'plain-write': { run: { 'INSERT bench_orders': 1 }, compiled: 0, connections: 0, writeCommits: 1 },
  fresh: {
    run: {
      'BEGIN IMMEDIATE': 2,
      'SELECT trpc_idempotency': 1,
      'INSERT trpc_idempotency': 1,
      'DELETE trpc_idempotency': 1,
      'INSERT bench_orders': 1,
      'UPDATE trpc_idempotency': 1,
      COMMIT: 2,
    },
    compiled: 0,
    connections: 0,
    // the claim's, the handler's autocommit INSERT, the completion's
    writeCommits: 3,
  },
  replay: {
    run: { 'BEGIN IMMEDIATE': 1, 'SELECT trpc_idempotency': 1, COMMIT: 1 },
    compiled: 0,
    connections: 0,
    writeCommits: 0,
  },
  'tx-fresh': {
    run: {
      'BEGIN IMMEDIATE': 2,
      'SELECT trpc_idempotency': 1,
      'INSERT trpc_idempotency': 1,
      'DELETE trpc_idempotency': 1,
      'PRAGMA synchronous': 1,
      'INSERT bench_orders': 1,
      'UPDATE trpc_idempotency': 1,
      COMMIT: 2,
    },
    // PRAGMA synchronous, the handler's INSERT, the completion's UPDATE
    compiled: 3,
    connections: 1,
    // the claim's, the handler's transaction with the completion
    writeCommits: 2,
  },
};

/** The table the handlers write their order rows to, in either database. */
export const ORDERS_TABLE = 'bench_orders';

/** The sum of a breakdown's counts. */
export function total(counts: Record<string, number>): number {
  return Object.values(counts).reduce((sum, n) => sum + n, 0);
}
