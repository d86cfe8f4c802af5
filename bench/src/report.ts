import type { RunsSummary, ScenarioSummary } from './aggregate';
import { fixed, markdownTable } from './table';

/** The summary of one scenario at one connection count, if it ran. */
export function findSummary(
  summaries: ScenarioSummary[],
  id: string,
  connections: number,
): ScenarioSummary | undefined {
  return summaries.find((summary) => summary.scenario.id === id && summary.connections === connections);
}

/** A figure, and its min–max over the full runs when there were several. */
function spreadCell(
  summary: ScenarioSummary | RunsSummary,
  field: keyof RunsSummary['spread'],
  decimals: number,
): string {
  const spread = 'spread' in summary && summary.runs > 1 ? summary.spread[field] : undefined;
  const value = fixed(summary[field], decimals);
  return spread && Number.isFinite(summary[field])
    ? `${value} [${fixed(spread.min, decimals)}–${fixed(spread.max, decimals)}]`
    : value;
}

/** The server table: one row per scenario and connection count; [min–max] over the runs when there were several. */
export function serverTable(summaries: Array<ScenarioSummary | RunsSummary>): string {
  const rows = [...summaries]
    .sort((a, b) => a.connections - b.connections)
    .map((summary) => [
      `${summary.scenario.label}${summary.scenario.ownProcess ? ' (own process)' : ''}`,
      String(summary.connections),
      fixed(summary.rps, 0),
      fixed(summary.p50Ms, 2),
      fixed(summary.p99Ms, 2),
      fixed(summary.redisCallsPerRequest, 2),
      spreadCell(summary, 'ratioToBaseline', 2),
      spreadCell(summary, 'ratioToPlainHop', 2),
      spreadCell(summary, 'serverCpuUsPerRequest', 0),
      fixed(summary.redisUsPerRequest, 1),
      summary.problems.length > 0 ? 'FAILED' : 'ok',
    ]);
  return markdownTable(
    [
      'scenario',
      'conns',
      'req/s',
      'p50 ms',
      'p99 ms',
      'redis cmds/req',
      'ratio vs baseline',
      'ratio vs plain-hop',
      'server CPU µs/req',
      'redis µs/req',
      'check',
    ],
    rows,
    ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l'],
  );
}

/**
 * The PostgresStore rows: what each request costs in statements and round trips, and its throughput
 * against the plain mutation and against the same handler writing its row without idempotency.
 */
export function postgresTable(summaries: ScenarioSummary[]): string {
  const rows = [...summaries]
    .filter((summary) => summary.scenario.postgres)
    .sort((a, b) => a.connections - b.connections)
    .map((summary) => {
      const write = findSummary(summaries, 'pg-plain-write', summary.connections);
      return [
        summary.scenario.label,
        String(summary.connections),
        fixed(summary.rps, 0),
        fixed(summary.p50Ms, 2),
        fixed(summary.p99Ms, 2),
        fixed(summary.pgStatementsPerRequest, 2),
        fixed(summary.pgRoundTripsPerRequest, 2),
        fixed(summary.ratioToBaseline, 2),
        fixed(write ? summary.rps / write.rps : Number.NaN, 2),
        fixed(summary.serverCpuUsPerRequest, 0),
        summary.problems.length > 0 ? 'FAILED' : 'ok',
      ];
    });
  return markdownTable(
    [
      'scenario',
      'conns',
      'req/s',
      'p50 ms',
      'p99 ms',
      'pg stmts/req',
      'pg round trips/req',
      'ratio vs plain',
      'ratio vs plain write',
      'server CPU µs/req',
      'check',
    ],
    rows,
    ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l'],
  );
}

/** The PostgresStore targets: exact statements and round trips, measured under load. */
export function postgresTargets(summaries: ScenarioSummary[]): TargetCheck[] {
  if (!summaries.some((summary) => summary.scenario.postgres)) return [];
  const values = (id: string, pick: (summary: ScenarioSummary) => number) =>
    summaries.filter((summary) => summary.scenario.id === id).map(pick);
  const exact = (measured: number[], expected: number) =>
    measured.length > 0 ? measured.every((value) => Math.abs(value - expected) <= 0.01) : undefined;
  const txTrips = values('pg-tx-fresh', (summary) => summary.pgRoundTripsPerRequest);
  const writeTrips = values('pg-plain-write', (summary) => summary.pgRoundTripsPerRequest);
  const list = (measured: number[]) => measured.map((value) => fixed(value, 3)).join(', ');
  return [
    {
      target: 'a fresh PostgresStore request runs exactly 2 statements in 2 round trips (claim, complete)',
      measured: `${list(values('pg-fresh', (summary) => summary.pgStatementsPerRequest))} statements; ${list(values('pg-fresh', (summary) => summary.pgRoundTripsPerRequest))} round trips`,
      met: exact(
        values('pg-fresh', (summary) => summary.pgRoundTripsPerRequest),
        2,
      ),
    },
    {
      target: 'a PostgresStore replay runs exactly 1 statement in 1 round trip',
      measured: list(values('pg-replay', (summary) => summary.pgStatementsPerRequest)),
      met: exact(
        values('pg-replay', (summary) => summary.pgStatementsPerRequest),
        1,
      ),
    },
    {
      target: 'a transactional fresh request costs at most 2 round trips more than the handler writing its row alone',
      measured: `${list(txTrips)} against ${list(writeTrips)}`,
      met:
        txTrips.length > 0 && writeTrips.length > 0
          ? Math.max(...txTrips) <= Math.min(...writeTrips) + 2 + 0.01
          : undefined,
    },
  ];
}

/** One line per target of the issue, with the measured figure and whether it was met. */
export interface TargetCheck {
  target: string;
  measured: string;
  met: boolean | undefined;
}

/** Renders target checks as a table. */
export function targetTable(checks: TargetCheck[]): string {
  return markdownTable(
    ['target', 'measured', 'met'],
    checks.map((check) => [check.target, check.measured, check.met === undefined ? 'n/a' : check.met ? 'yes' : 'NO']),
  );
}
