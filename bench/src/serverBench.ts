import { randomUUID } from 'node:crypto';
import { type CommandCounts, commandDelta, settledCommandCounts } from './commandStats';
import { type LoadResult, postOrder, runLoad } from './load';
import type { BenchPostgres } from './postgresSetup';
import type { Scenario } from './scenarios';
import type { ServerHandle } from './serverHandle';
import type { ServerStats } from './serverMessages';

/** Timing of each load run. */
export interface Timing {
  warmupSec: number;
  durationSec: number;
}

/** One row of the server table. */
export interface ScenarioResult extends LoadResult {
  scenario: Scenario;
  connections: number;
  /** Requests the server counted in the measured window, finished or not when the window closed. */
  served: number;
  /** Top-level Redis calls in the window, all cluster masters summed. */
  redisCalls: number;
  /** Top-level Redis calls per request the server handled in the window. */
  redisCallsPerRequest: number;
  /** CPU time of the server process per request it handled: user + system, load-independent-ish. */
  serverCpuUsPerRequest: number;
  /** Time Redis spent on the top-level calls, per request. */
  redisUsPerRequest: number;
  /** Calls Redis counted from inside scripts, per request (reported apart; not part of the figure above). */
  insideScriptCallsPerRequest: number;
  handlerRunsPerRequest: number;
  /** Statements PostgreSQL ran (top level, pg_stat_statements) per request; NaN without PostgreSQL. */
  pgStatementsPerRequest: number;
  /** Queries the server's pg clients sent per request, each one round trip; NaN without PostgreSQL. */
  pgRoundTripsPerRequest: number;
  /** What was wrong with the run; empty when it behaved as the scenario says it must. */
  problems: string[];
}

/** Waits until neither Redis nor the server's own counts move, so that requests cut off by the load generator are done. */
async function settled(server: ServerHandle, redisUrls: string[]): Promise<[CommandCounts, ServerStats]> {
  let stats = await server.stats();
  for (let attempt = 0; attempt < 20; attempt++) {
    const counts = await settledCommandCounts(redisUrls);
    const next = await server.stats();
    if (next.requests === stats.requests && next.runs === stats.runs) return [counts, next];
    stats = next;
  }
  throw new Error('the bench server never went quiet after a load run');
}

async function waitFor(condition: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * Runs one scenario at one connection count: prepares its key, warms up, then measures a fixed
 * duration while reading Redis command counts and the server's own request and handler counts.
 */
export async function runScenario(
  server: ServerHandle,
  redisUrls: string[],
  scenario: Scenario,
  connections: number,
  timing: Timing,
  postgres?: BenchPostgres,
): Promise<ScenarioResult> {
  const problems: string[] = [];
  const fixedKey = `bench-${scenario.keys}-${randomUUID()}`;
  let holder: Promise<number> | undefined;
  if (scenario.keys === 'replay') {
    const status = await postOrder(server.url, scenario.path, fixedKey);
    if (status !== 200) problems.push(`the first request of the replay key got ${status}`);
  } else if (scenario.keys === 'conflict') {
    holder = postOrder(server.url, scenario.path, fixedKey);
    await waitFor(async () => (await server.stats()).waiting > 0, 'the conflict holder to start');
  }
  const key = scenario.keys === 'fresh' ? 'fresh' : scenario.keys === 'none' ? 'none' : fixedKey;
  const load = { url: server.url, path: scenario.path, connections, key };

  await runLoad({ ...load, durationSec: timing.warmupSec });
  const [countsBefore, statsBefore] = await settled(server, redisUrls);
  const statementsBefore = await postgres?.statements();
  const result = await runLoad({ ...load, durationSec: timing.durationSec });
  const [countsAfter, statsAfter] = await settled(server, redisUrls);
  const statementsAfter = await postgres?.statements();

  if (holder) {
    await server.openGate();
    const status = await holder;
    if (status !== 200) problems.push(`the conflict holder finished with ${status}`);
  }

  const served = statsAfter.requests - statsBefore.requests;
  const calls = commandDelta(countsBefore, countsAfter);
  const redisCallsPerRequest = served > 0 ? calls.topLevel / served : Number.NaN;
  const handlerRunsPerRequest = served > 0 ? (statsAfter.runs - statsBefore.runs) / served : Number.NaN;

  const pgStatementsPerRequest =
    statementsBefore && statementsAfter && served > 0
      ? (statementsAfter.total - statementsBefore.total) / served
      : Number.NaN;
  const pgRoundTripsPerRequest =
    postgres && served > 0 ? (statsAfter.pgRoundTrips - statsBefore.pgRoundTrips) / served : Number.NaN;
  if (scenario.postgres) {
    const { statementsPerRequest, roundTripsPerRequest } = scenario.postgres;
    for (const [what, measured, expected] of [
      ['statements', pgStatementsPerRequest, statementsPerRequest],
      ['round trips', pgRoundTripsPerRequest, roundTripsPerRequest],
    ] as const) {
      if (!(Math.abs(measured - expected) <= (expected * connections) / Math.max(1, served) + 0.005)) {
        problems.push(`expected ${expected} PostgreSQL ${what} per request, measured ${measured.toFixed(3)}`);
      }
    }
  }

  const unexpected = Object.entries(result.statuses).filter(([status]) => Number(status) !== scenario.status);
  if (unexpected.length > 0) {
    problems.push(`expected only HTTP ${scenario.status}, got ${unexpected.map(([s, n]) => `${n}× ${s}`).join(', ')}`);
  }
  if (result.errors > 0 || result.timeouts > 0) {
    problems.push(`${result.errors} connection errors, ${result.timeouts} timeouts`);
  }
  if (result.requests === 0) problems.push('no request completed');
  // Requests cut off when a window opens or closes are counted on one side only: allow for them.
  const edge = (scenario.redisCallsPerRequest * connections) / Math.max(1, served) + 0.005;
  if (!(Math.abs(redisCallsPerRequest - scenario.redisCallsPerRequest) <= edge)) {
    problems.push(
      `expected ${scenario.redisCallsPerRequest} Redis calls per request, measured ${redisCallsPerRequest.toFixed(3)} ` +
        `(${JSON.stringify(calls.byName)} over ${served} requests)`,
    );
  }
  // A fresh request cut off at a window's edge may run its handler on the other side of the edge.
  const runsOff = Math.abs(statsAfter.runs - statsBefore.runs - scenario.handlerRunsPerRequest * served);
  if (runsOff > (scenario.handlerRunsPerRequest === 1 ? connections : 0)) {
    problems.push(
      `expected ${scenario.handlerRunsPerRequest} handler runs per request, measured ${handlerRunsPerRequest}`,
    );
  }
  return {
    ...result,
    scenario,
    connections,
    served,
    redisCalls: calls.topLevel,
    serverCpuUsPerRequest: served > 0 ? (statsAfter.cpuUs - statsBefore.cpuUs) / served : Number.NaN,
    redisUsPerRequest: served > 0 ? calls.topLevelUsec / served : Number.NaN,
    redisCallsPerRequest,
    insideScriptCallsPerRequest: served > 0 ? calls.insideScripts / served : Number.NaN,
    handlerRunsPerRequest,
    pgStatementsPerRequest,
    pgRoundTripsPerRequest,
    problems,
  };
}
