/*
 * Counters the bench:sql server process installs before it opens any connection: what its mysql2
 * connections send (round trips) and what its better-sqlite3 connections execute (statements). They wrap
 * the libraries' prototypes, so they see the store's calls as well as the handler's, and change nothing else.
 */
import Database from 'better-sqlite3';
import mysql from 'mysql2';

/** What the wrapped libraries did since the process started. */
export interface DriverCounts {
  /** mysql2 commands sent, by command (Query, Execute, Prepare, Ping, ResetConnection…), handshakes apart. */
  mysqlCommands: Record<string, number>;
  /** better-sqlite3 statements executed, by kind and table (see {@link statementKind}). */
  sqliteStatements: Record<string, number>;
  /** better-sqlite3 statements compiled: prepare() and pragma() calls. */
  sqliteCompiled: number;
  /** better-sqlite3 connections closed. */
  sqliteClosed: number;
  /**
   * better-sqlite3 commits that wrote something: an autocommit `run` that changed rows, or a COMMIT after
   * one. With `synchronous = FULL` each one syncs the WAL to the disk.
   */
  sqliteWriteCommits: number;
}

/** mysql2 commands that are no request of a round trip of their own: opening and closing a connection. */
export const CONNECTION_COMMANDS = new Set(['ClientHandshake', 'Quit']);

type Method = (this: unknown, ...args: unknown[]) => unknown;

function wrap(
  target: Record<string, unknown>,
  name: string,
  before: (self: unknown, args: unknown[]) => void,
  after?: (self: unknown, result: unknown, args: unknown[]) => void,
): void {
  const original = target[name] as Method | undefined;
  if (typeof original !== 'function') return;
  target[name] = function (this: unknown, ...args: unknown[]) {
    before(this, args);
    const result = original.apply(this, args);
    after?.(this, result, args);
    return result;
  };
}

function bump(counts: Record<string, number>, name: string): void {
  counts[name] = (counts[name] ?? 0) + 1;
}

/**
 * Installs the counters and returns the live counts. Every mysql2 command goes through the connection's
 * `addCommand` (a pool's query too) and is answered before the connection's next one runs, so each is one
 * round trip; better-sqlite3 runs a statement on `run`, `get`, `all` or `iterate` of its Statement (its
 * transaction functions' BEGIN and COMMIT and `pragma()` included) or on `exec` (counted as one: the store
 * and the handlers exec single statements only).
 */
export function installDriverCounters(): DriverCounts {
  const counts: DriverCounts = {
    mysqlCommands: {},
    sqliteStatements: {},
    sqliteCompiled: 0,
    sqliteClosed: 0,
    sqliteWriteCommits: 0,
  };

  const connectionClass = (mysql as unknown as { Connection: { prototype: Record<string, unknown> } }).Connection;
  wrap(connectionClass.prototype, 'addCommand', (_self, [command]) => {
    bump(counts.mysqlCommands, (command as object).constructor.name);
  });

  // The Statement class is the native addon's; reach its prototype through one statement.
  const probe = new Database(':memory:');
  const statementPrototype = Object.getPrototypeOf(probe.prepare('SELECT 1')) as Record<string, unknown>;
  probe.close();
  // Connections with changed rows not committed yet, to count the commits that write.
  const dirty = new WeakSet<Database.Database>();
  const afterStatement = (db: Database.Database, kind: string, changes: number) => {
    if (kind === 'COMMIT' || kind === 'ROLLBACK') {
      if (kind === 'COMMIT' && dirty.has(db)) counts.sqliteWriteCommits++;
      dirty.delete(db);
    } else if (changes > 0) {
      if (db.inTransaction) dirty.add(db);
      else counts.sqliteWriteCommits++;
    }
  };
  for (const method of ['run', 'get', 'all', 'iterate']) {
    wrap(
      statementPrototype,
      method,
      (self) => bump(counts.sqliteStatements, statementKind((self as Database.Statement).source)),
      (self, result) => {
        const statement = self as Database.Statement;
        const changes = method === 'run' ? (result as Database.RunResult).changes : 0;
        afterStatement(statement.database, statementKind(statement.source), changes);
      },
    );
  }
  const databasePrototype = Database.prototype as unknown as Record<string, unknown>;
  wrap(
    databasePrototype,
    'exec',
    (_self, [sql]) => bump(counts.sqliteStatements, statementKind(String(sql))),
    // The store execs BEGIN IMMEDIATE, COMMIT and ROLLBACK only.
    (self, _result, [sql]) => afterStatement(self as Database.Database, statementKind(String(sql)), 0),
  );
  wrap(databasePrototype, 'prepare', () => {
    counts.sqliteCompiled++;
  });
  wrap(databasePrototype, 'pragma', () => {
    counts.sqliteCompiled++;
  });
  wrap(databasePrototype, 'close', () => {
    counts.sqliteClosed++;
  });
  return counts;
}

/**
 * Names a statement by its verb and table: `INSERT bench_orders`, `SELECT trpc_idempotency`,
 * `BEGIN IMMEDIATE`, `COMMIT`, `PRAGMA synchronous`.
 */
export function statementKind(sql: string): string {
  const words = sql.trim().split(/[\s(]+/);
  const verb = (words[0] ?? '').toUpperCase();
  const word = (i: number) => words[i] ?? '?';
  switch (verb) {
    case 'BEGIN':
      return words[1] ? `BEGIN ${word(1).toUpperCase()}` : 'BEGIN';
    case 'PRAGMA':
      return `PRAGMA ${word(1).replace(/=.*/, '')}`;
    case 'INSERT':
    case 'DELETE':
      return `${verb} ${word(2)}`;
    case 'UPDATE':
      return `${verb} ${word(1)}`;
    case 'SELECT': {
      const from = words.findIndex((w) => w.toUpperCase() === 'FROM');
      return from >= 0 ? `SELECT ${word(from + 1)}` : 'SELECT';
    }
    default:
      return verb;
  }
}
