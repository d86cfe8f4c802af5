import { randomUUID } from 'node:crypto';
import { postOrder } from './load';
import { CONNECTION_COMMANDS } from './sqlStoresCounting';
import type { SqlServerHandle, SqlServerStats } from './sqlStoresHandle';
import type { BenchMariaDb, MariaDbStatus } from './sqlStoresSetup';
import {
  MARIADB_EXPECTED,
  SQLITE_EXPECTED,
  type SqlDatabase,
  total,
  VARIANTS,
  type Variant,
} from './sqlStoresVariants';

/** Exact per-request traffic of one variant, from sequential requests with nothing else running. */
export interface AuditResult {
  database: SqlDatabase;
  variant: Variant;
  requests: number;
  /** Statements the database ran per request, by kind (MariaDB: `Com_*`, stored procedures' included). */
  statements: Record<string, number>;
  /** MariaDB: statements the server process sent per request (`Questions`); SQLite: NaN. */
  sent: number;
  /** Round trips to the database per request (SQLite runs in the process: 0). */
  roundTrips: number;
  /** SQLite: statements compiled per request; MariaDB: NaN. */
  compiled: number;
  /** Connections opened per request (MariaDB: mysql2 handshakes; SQLite: connections opened and closed). */
  connections: number;
  /**
   * MariaDB: InnoDB fsync calls per request (`Innodb_data_fsyncs`), not checked: InnoDB's background thread
   * syncs too, about once a second. SQLite: commits that wrote rows, each a sync of the WAL (checked).
   */
  fsyncs: number;
  handlerRunsPerRequest: number;
  /** How the counts differ from what the store is designed to send; empty when they match. */
  problems: string[];
}

const WARM_UP_REQUESTS = 3;

function delta(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, value] of Object.entries(after)) {
    const d = value - (before[name] ?? 0);
    if (d !== 0) out[name] = d;
  }
  return out;
}

function perRequest(counts: Record<string, number>, requests: number): Record<string, number> {
  return Object.fromEntries(Object.entries(counts).map(([name, n]) => [name, n / requests]));
}

function sameCounts(measured: Record<string, number>, expected: Record<string, number>): boolean {
  const names = new Set([...Object.keys(measured), ...Object.keys(expected)]);
  return [...names].every((name) => (measured[name] ?? 0) === (expected[name] ?? 0));
}

function describeCounts(counts: Record<string, number>): string {
  return Object.entries(counts)
    .map(([name, n]) => `${n}× ${name}`)
    .join(', ');
}

/** Sends `requests` sequential requests of a variant, each of which must answer 200. */
async function send(server: SqlServerHandle, variant: Variant, requests: number, replayKey: string): Promise<void> {
  for (let i = 0; i < requests; i++) {
    const key = variant.keys === 'replay' ? replayKey : `audit-${randomUUID()}`;
    const status = await postOrder(server.url, variant.path, key);
    if (status !== 200) throw new Error(`audit request to ${variant.id} answered ${status}`);
  }
}

/**
 * Audits every variant of one database: a few sequential warm-up requests (the first of the replay
 * variant completes its key), then `requests` measured ones, one at a time, each variant alone. MariaDB's
 * counters are server-wide, so the reader's own `SHOW GLOBAL STATUS` is measured first, over no
 * request, and taken off.
 */
export async function auditDatabase(
  database: SqlDatabase,
  servers: ReadonlyMap<Variant['id'], SqlServerHandle>,
  mariadb: BenchMariaDb | undefined,
  requests = 10,
): Promise<AuditResult[]> {
  let readerOwn: MariaDbStatus = { questions: 0, com: {}, fsyncs: 0 };
  if (mariadb) {
    const first = await mariadb.status();
    const second = await mariadb.status();
    readerOwn = { questions: second.questions - first.questions, com: delta(second.com, first.com), fsyncs: 0 };
  }
  const results: AuditResult[] = [];
  for (const variant of VARIANTS) {
    const server = servers.get(variant.id)!;
    const replayKey = `audit-replay-${randomUUID()}`;
    await send(server, variant, WARM_UP_REQUESTS, replayKey);
    const statusBefore = await mariadb?.status();
    const before = await server.stats();
    await send(server, variant, requests, replayKey);
    const after = await server.stats();
    const statusAfter = await mariadb?.status();
    results.push(
      database === 'mariadb'
        ? mariaDbResult(variant, requests, before, after, statusBefore!, statusAfter!, readerOwn)
        : sqliteResult(variant, requests, before, after),
    );
  }
  return results;
}

function mariaDbResult(
  variant: Variant,
  requests: number,
  before: SqlServerStats,
  after: SqlServerStats,
  statusBefore: MariaDbStatus,
  statusAfter: MariaDbStatus,
  readerOwn: MariaDbStatus,
): AuditResult {
  const com = delta(delta(statusAfter.com, statusBefore.com), readerOwn.com);
  const sent = statusAfter.questions - statusBefore.questions - readerOwn.questions;
  const commands = delta(after.mysqlCommands, before.mysqlCommands);
  let roundTrips = 0;
  for (const [command, n] of Object.entries(commands)) if (!CONNECTION_COMMANDS.has(command)) roundTrips += n;
  const expected = MARIADB_EXPECTED[variant.id];
  const statements = perRequest(com, requests);
  const result: AuditResult = {
    database: 'mariadb',
    variant,
    requests,
    statements,
    sent: sent / requests,
    roundTrips: roundTrips / requests,
    compiled: Number.NaN,
    connections: (commands.ClientHandshake ?? 0) / requests,
    fsyncs: (statusAfter.fsyncs - statusBefore.fsyncs) / requests,
    handlerRunsPerRequest: (after.runs - before.runs) / requests,
    problems: [],
  };
  if (!sameCounts(statements, expected.run)) {
    result.problems.push(
      `statements run: expected ${describeCounts(expected.run)}, measured ${describeCounts(statements)}`,
    );
  }
  if (result.sent !== expected.sent) {
    result.problems.push(`statements sent: expected ${expected.sent}, measured ${result.sent}`);
  }
  if (result.roundTrips !== expected.roundTrips) {
    result.problems.push(
      `round trips: expected ${expected.roundTrips}, measured ${result.roundTrips} (${describeCounts(commands)})`,
    );
  }
  checkRuns(result);
  return result;
}

function sqliteResult(variant: Variant, requests: number, before: SqlServerStats, after: SqlServerStats): AuditResult {
  const statements = perRequest(delta(after.sqliteStatements, before.sqliteStatements), requests);
  const expected = SQLITE_EXPECTED[variant.id];
  const result: AuditResult = {
    database: 'sqlite',
    variant,
    requests,
    statements,
    sent: Number.NaN,
    roundTrips: total(delta(after.mysqlCommands, before.mysqlCommands)) / requests,
    compiled: (after.sqliteCompiled - before.sqliteCompiled) / requests,
    connections: (after.sqliteClosed - before.sqliteClosed) / requests,
    fsyncs: (after.sqliteWriteCommits - before.sqliteWriteCommits) / requests,
    handlerRunsPerRequest: (after.runs - before.runs) / requests,
    problems: [],
  };
  if (!sameCounts(statements, expected.run)) {
    result.problems.push(
      `statements: expected ${describeCounts(expected.run)}, measured ${describeCounts(statements)}`,
    );
  }
  if (result.compiled !== expected.compiled) {
    result.problems.push(`statements compiled: expected ${expected.compiled}, measured ${result.compiled}`);
  }
  if (result.connections !== expected.connections) {
    result.problems.push(`connections opened: expected ${expected.connections}, measured ${result.connections}`);
  }
  if (result.fsyncs !== expected.writeCommits) {
    result.problems.push(`commits that write: expected ${expected.writeCommits}, measured ${result.fsyncs}`);
  }
  if (result.roundTrips !== 0) result.problems.push(`round trips: expected 0, measured ${result.roundTrips}`);
  checkRuns(result);
  return result;
}

function checkRuns(result: AuditResult): void {
  if (result.handlerRunsPerRequest !== result.variant.handlerRunsPerRequest) {
    result.problems.push(
      `handler runs: expected ${result.variant.handlerRunsPerRequest} per request, measured ${result.handlerRunsPerRequest}`,
    );
  }
}
