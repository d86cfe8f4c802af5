import { randomUUID } from 'node:crypto';
import { type LoadResult, postOrder, runLoad } from './load';
import { CONNECTION_COMMANDS } from './sqlStoresCounting';
import type { SqlServerHandle, SqlServerStats } from './sqlStoresHandle';
import type { BenchMariaDb } from './sqlStoresSetup';
import { type SqlDatabase, total, type Variant } from './sqlStoresVariants';

/** Timing of each load run. */
export interface Timing {
  warmupSec: number;
  durationSec: number;
}

/** One measured load run of one variant. */
export interface LoadRun extends LoadResult {
  database: SqlDatabase;
  variant: Variant;
  connections: number;
  round: number;
  /** Requests the server counted in the measured window. */
  served: number;
  /** CPU time of the server process per request it served: user + system. */
  serverCpuUsPerRequest: number;
  /** MariaDB: statements sent (`Questions`) per request; SQLite: statements executed per request. */
  statementsPerRequest: number;
  /** Round trips to the database per request (SQLite: 0). */
  roundTripsPerRequest: number;
  handlerRunsPerRequest: number;
  /** What was wrong with the run; empty when it behaved as the variant says it must. */
  problems: string[];
}

/** Waits until the server's request and handler counts stop moving, so that requests cut off at the window's end are done. */
async function settled(server: SqlServerHandle): Promise<SqlServerStats> {
  let stats = await server.stats();
  for (let attempt = 0; attempt < 50; attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    const next = await server.stats();
    if (next.requests === stats.requests && next.runs === stats.runs) return next;
    stats = next;
  }
  throw new Error(`the ${server.config.database}/${server.config.variant} server never went quiet after a load run`);
}

function roundTrips(stats: SqlServerStats): number {
  let n = 0;
  for (const [command, count] of Object.entries(stats.mysqlCommands)) if (!CONNECTION_COMMANDS.has(command)) n += count;
  return n;
}

/**
 * Runs one variant at one connection count: completes its replay key, warms up, then measures a fixed
 * duration while reading the server's counts (and MariaDB's `Questions`) on each side of the window.
 */
export async function runVariant(
  server: SqlServerHandle,
  variant: Variant,
  connections: number,
  round: number,
  timing: Timing,
  mariadb: BenchMariaDb | undefined,
): Promise<LoadRun> {
  const problems: string[] = [];
  let key = variant.keys === 'fresh' ? 'fresh' : 'none';
  if (variant.keys === 'replay') {
    key = `bench-replay-${randomUUID()}`;
    const status = await postOrder(server.url, variant.path, key);
    if (status !== 200) problems.push(`the first request of the replay key got ${status}`);
  }
  const load = { url: server.url, path: variant.path, connections, key };
  await runLoad({ ...load, durationSec: timing.warmupSec });
  const before = await settled(server);
  const questionsBefore = (await mariadb?.status())?.questions;
  const result = await runLoad({ ...load, durationSec: timing.durationSec });
  const after = await settled(server);
  const questionsAfter = (await mariadb?.status())?.questions;

  const served = after.requests - before.requests;
  const per = (n: number) => (served > 0 ? n / served : Number.NaN);
  const statements =
    questionsBefore !== undefined && questionsAfter !== undefined
      ? // less the reader's own SHOW GLOBAL STATUS
        questionsAfter - questionsBefore - 1
      : total(after.sqliteStatements) - total(before.sqliteStatements);
  const runs = after.runs - before.runs;

  const unexpected = Object.entries(result.statuses).filter(([status]) => Number(status) !== 200);
  if (unexpected.length > 0) {
    problems.push(`expected only HTTP 200, got ${unexpected.map(([s, n]) => `${n}× ${s}`).join(', ')}`);
  }
  if (result.errors > 0 || result.timeouts > 0)
    problems.push(`${result.errors} connection errors, ${result.timeouts} timeouts`);
  if (result.requests === 0) problems.push('no request completed');
  // A fresh request cut off at a window's edge may run its handler on the other side of the edge.
  if (
    Math.abs(runs - variant.handlerRunsPerRequest * served) > (variant.handlerRunsPerRequest === 1 ? connections : 0)
  ) {
    problems.push(`expected ${variant.handlerRunsPerRequest} handler runs per request, measured ${per(runs)}`);
  }
  return {
    ...result,
    database: server.config.database,
    variant,
    connections,
    round,
    served,
    serverCpuUsPerRequest: per(after.cpuUs - before.cpuUs),
    statementsPerRequest: per(statements),
    roundTripsPerRequest: per(roundTrips(after) - roundTrips(before)),
    handlerRunsPerRequest: per(runs),
    problems,
  };
}
