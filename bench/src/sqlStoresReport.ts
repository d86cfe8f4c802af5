import type { AuditResult } from './sqlStoresAudit';
import type { LoadRun } from './sqlStoresLoad';
import { MARIADB_EXPECTED, SQLITE_EXPECTED, type SqlDatabase, total, VARIANTS } from './sqlStoresVariants';
import { median } from './stats';
import { fixed, markdownTable } from './table';

/** MariaDB's `Com_*` names as the SQL they count. */
const COM_SQL: Record<string, string> = {
  call_procedure: 'CALL',
  begin: 'START TRANSACTION',
  set_option: 'SET TRANSACTION',
};

function breakdown(counts: Record<string, number>, database: SqlDatabase): string {
  return Object.entries(counts)
    .map(
      ([name, n]) =>
        `${fixed(n, n % 1 === 0 ? 0 : 2)}× ${database === 'mariadb' ? (COM_SQL[name] ?? name.toUpperCase()) : name}`,
    )
    .join(', ');
}

/** The exact per-request counts of one database's audit, as a table. */
export function auditTable(results: AuditResult[]): string {
  const rows = results.map((r) => {
    const check = r.problems.length > 0 ? 'FAILED' : 'as designed';
    if (r.database === 'mariadb') {
      const expected = MARIADB_EXPECTED[r.variant.id];
      return [
        r.variant.label,
        fixed(r.sent, 2),
        fixed(total(r.statements), 2),
        fixed(r.roundTrips, 2),
        fixed(r.fsyncs, 1),
        breakdown(r.statements, r.database),
        `${expected.sent} / ${total(expected.run)} / ${expected.roundTrips}`,
        check,
      ];
    }
    const expected = SQLITE_EXPECTED[r.variant.id];
    return [
      r.variant.label,
      fixed(total(r.statements), 2),
      fixed(r.compiled, 2),
      fixed(r.connections, 2),
      fixed(r.fsyncs, 2),
      breakdown(r.statements, r.database),
      `${total(expected.run)} / ${expected.compiled} / ${expected.connections} / ${expected.writeCommits}`,
      check,
    ];
  });
  const header =
    results[0]?.database === 'mariadb'
      ? [
          'request kind',
          'stmts sent/req',
          'stmts run/req',
          'round trips/req',
          'InnoDB fsyncs/req',
          'statements run (procedures included)',
          'expected sent / run / round trips',
          'check',
        ]
      : [
          'request kind',
          'stmts/req',
          'compiled/req',
          'connections/req',
          'write commits/req',
          'statements executed (in-process, 0 round trips)',
          'expected stmts / compiled / connections / write commits',
          'check',
        ];
  const align: Array<'l' | 'r'> = header.map((_, i) => (i > 0 && i < header.length - 3 ? 'r' : 'l'));
  return markdownTable(header, rows, align);
}

/** One line of the load table: the medians over the rounds of one variant at one connection count. */
export interface LoadSummary {
  database: SqlDatabase;
  label: string;
  connections: number;
  rounds: number;
  rps: number;
  /** Median of the per-round ratios of req/s to the plain write's of the same round. */
  ratioToPlainWrite: number;
  p50Ms: number;
  p99Ms: number;
  serverCpuUsPerRequest: number;
  statementsPerRequest: number;
  roundTripsPerRequest: number;
  problems: string[];
}

/** Folds the rounds of one database into one line per variant and connection count. */
export function summarize(runs: LoadRun[]): LoadSummary[] {
  const summaries: LoadSummary[] = [];
  const connectionCounts = [...new Set(runs.map((run) => run.connections))].sort((a, b) => a - b);
  for (const connections of connectionCounts) {
    for (const variant of VARIANTS) {
      const mine = runs.filter((run) => run.connections === connections && run.variant.id === variant.id);
      if (mine.length === 0) continue;
      const ratios = mine.map((run) => {
        const plain = runs.find(
          (other) =>
            other.connections === connections && other.round === run.round && other.variant.id === 'plain-write',
        );
        return plain ? run.rps / plain.rps : Number.NaN;
      });
      summaries.push({
        database: mine[0]!.database,
        label: variant.label,
        connections,
        rounds: mine.length,
        rps: median(mine.map((run) => run.rps)),
        ratioToPlainWrite: median(ratios),
        p50Ms: median(mine.map((run) => run.p50Ms)),
        p99Ms: median(mine.map((run) => run.p99Ms)),
        serverCpuUsPerRequest: median(mine.map((run) => run.serverCpuUsPerRequest)),
        statementsPerRequest: median(mine.map((run) => run.statementsPerRequest)),
        roundTripsPerRequest: median(mine.map((run) => run.roundTripsPerRequest)),
        problems: mine.flatMap((run) => run.problems.map((problem) => `round ${run.round}: ${problem}`)),
      });
    }
  }
  return summaries;
}

/** The load figures of one database, as a table. */
export function loadTable(summaries: LoadSummary[]): string {
  const mariadb = summaries[0]?.database === 'mariadb';
  return markdownTable(
    [
      'variant',
      'conns',
      'req/s',
      'ratio vs plain write',
      'p50 ms',
      'p99 ms',
      'server CPU µs/req',
      mariadb ? 'stmts sent/req' : 'stmts/req',
      'round trips/req',
      'check',
    ],
    summaries.map((s) => [
      s.label,
      String(s.connections),
      fixed(s.rps, 0),
      fixed(s.ratioToPlainWrite, 2),
      fixed(s.p50Ms, 2),
      fixed(s.p99Ms, 2),
      fixed(s.serverCpuUsPerRequest, 0),
      fixed(s.statementsPerRequest, 2),
      fixed(s.roundTripsPerRequest, 2),
      s.problems.length > 0 ? 'FAILED' : 'ok',
    ]),
    ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l'],
  );
}
