import type { Scenario } from './scenarios';
import type { ScenarioResult } from './serverBench';
import { median } from './stats';

/** One scenario at one connection count, over all rounds of the run. */
export interface ScenarioSummary {
  scenario: Scenario;
  connections: number;
  rounds: number;
  /** Medians over the rounds. */
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** Median over the rounds of this round's req/s divided by its baseline's (the scenario's `baseline`) in the same round. */
  ratioToBaseline: number;
  /** The same against plain-hop (the plain handler awaiting one claim-sized Redis round trip); NaN if it did not run. */
  ratioToPlainHop: number;
  /** Median over the rounds of this round's p50 minus its baseline's p50 in the same round. */
  addedP50Ms: number;
  /** Median over the rounds of this round's server CPU per request minus its baseline's in the same round. */
  addedServerCpuUs: number;
  /** The same difference as a share of the baseline's server CPU per request, in %. */
  addedServerCpuPct: number;
  /** Requests the server handled in the measured windows, all rounds. */
  served: number;
  /** All top-level calls over all requests the server handled in the measured windows. */
  redisCallsPerRequest: number;
  insideScriptCallsPerRequest: number;
  /** Medians over the rounds. */
  serverCpuUsPerRequest: number;
  redisUsPerRequest: number;
  /** Over all requests of the measured windows, as for Redis calls; NaN without PostgreSQL. */
  pgStatementsPerRequest: number;
  pgRoundTripsPerRequest: number;
  problems: string[];
}

/**
 * Folds the rounds into one figure per scenario. Rounds interleave the scenarios, so a slow spell
 * of the shared machine hits every scenario of a round alike, and each ratio compares runs that
 * were measured one right after the other.
 */
export function summarise(rounds: ScenarioResult[][]): ScenarioSummary[] {
  const groups = new Map<string, ScenarioResult[]>();
  // Every result by round, scenario and connection count, so that each finds its baseline's run.
  const runOf = new Map<string, ScenarioResult>();
  const roundOf = new Map<ScenarioResult, number>();
  rounds.forEach((round, r) => {
    for (const result of round) {
      const id = `${result.scenario.id}@${result.connections}`;
      groups.set(id, [...(groups.get(id) ?? []), result]);
      runOf.set(`${r}:${id}`, result);
      roundOf.set(result, r);
    }
  });
  return [...groups.values()].map((results) => {
    const first = results[0]!;
    const baseline = first.scenario.baseline ?? 'plain';
    const pairedWith = (id: string) =>
      results
        .map((result) => ({ result, base: runOf.get(`${roundOf.get(result)}:${id}@${result.connections}`) }))
        .filter((pair): pair is { result: ScenarioResult; base: ScenarioResult } => pair.base !== undefined);
    const paired = pairedWith(baseline);
    const served = results.reduce((sum, result) => sum + result.served, 0);
    return {
      scenario: first.scenario,
      connections: first.connections,
      rounds: results.length,
      rps: median(results.map((result) => result.rps)),
      p50Ms: median(results.map((result) => result.p50Ms)),
      p99Ms: median(results.map((result) => result.p99Ms)),
      ratioToBaseline: median(paired.map(({ result, base }) => result.rps / base.rps)),
      ratioToPlainHop: median(pairedWith('plain-hop').map(({ result, base }) => result.rps / base.rps)),
      addedP50Ms: median(paired.map(({ result, base }) => result.p50Ms - base.p50Ms)),
      addedServerCpuUs: median(
        paired.map(({ result, base }) => result.serverCpuUsPerRequest - base.serverCpuUsPerRequest),
      ),
      addedServerCpuPct: median(
        paired.map(
          ({ result, base }) =>
            (100 * (result.serverCpuUsPerRequest - base.serverCpuUsPerRequest)) / base.serverCpuUsPerRequest,
        ),
      ),
      served,
      redisCallsPerRequest: results.reduce((sum, result) => sum + result.redisCalls, 0) / served,
      insideScriptCallsPerRequest:
        results.reduce((sum, result) => sum + result.insideScriptCallsPerRequest * result.served, 0) / served,
      serverCpuUsPerRequest: median(results.map((result) => result.serverCpuUsPerRequest)),
      redisUsPerRequest: median(results.map((result) => result.redisUsPerRequest)),
      pgStatementsPerRequest:
        results.reduce((sum, result) => sum + result.pgStatementsPerRequest * result.served, 0) / served,
      pgRoundTripsPerRequest:
        results.reduce((sum, result) => sum + result.pgRoundTripsPerRequest * result.served, 0) / served,
      problems: results.flatMap((result, i) => result.problems.map((problem) => `round ${i + 1}: ${problem}`)),
    };
  });
}

/** The figures of a summary that are medians, and so get a spread over runs. */
export const SPREAD_FIELDS = [
  'rps',
  'p50Ms',
  'p99Ms',
  'ratioToBaseline',
  'ratioToPlainHop',
  'addedP50Ms',
  'addedServerCpuUs',
  'addedServerCpuPct',
  'serverCpuUsPerRequest',
  'redisUsPerRequest',
] as const;

/** The lowest and highest of one figure over the runs, and each run's own. */
export interface Spread {
  min: number;
  max: number;
  runs: number[];
}

/** A scenario over several full runs: each figure the median of the runs' own medians, with its spread. */
export interface RunsSummary extends ScenarioSummary {
  /** How many full runs measured it. */
  runs: number;
  spread: Record<(typeof SPREAD_FIELDS)[number], Spread>;
}

/**
 * Folds the summaries of several full runs (each the median of its own interleaved rounds) into one per
 * scenario: the median of the runs' figures and their min–max. Counts per request are pooled over every
 * request of every run, as within a run; problems are kept with the run they came from.
 */
export function combineRuns(runs: ScenarioSummary[][]): RunsSummary[] {
  const groups = new Map<string, ScenarioSummary[]>();
  for (const run of runs) {
    for (const summary of run) {
      const id = `${summary.scenario.id}@${summary.connections}`;
      groups.set(id, [...(groups.get(id) ?? []), summary]);
    }
  }
  return [...groups.values()].map((summaries) => {
    const served = summaries.reduce((sum, summary) => sum + summary.served, 0);
    const pooled = (pick: (summary: ScenarioSummary) => number) =>
      summaries.reduce((sum, summary) => sum + pick(summary) * summary.served, 0) / served;
    const spread = Object.fromEntries(
      SPREAD_FIELDS.map((field) => {
        const values = summaries.map((summary) => summary[field]);
        const finite = values.filter(Number.isFinite);
        return [
          field,
          {
            min: finite.length ? Math.min(...finite) : Number.NaN,
            max: finite.length ? Math.max(...finite) : Number.NaN,
            runs: values,
          },
        ];
      }),
    ) as RunsSummary['spread'];
    const medians = Object.fromEntries(SPREAD_FIELDS.map((field) => [field, median(spread[field].runs)]));
    return {
      ...summaries[0]!,
      ...medians,
      rounds: summaries.reduce((sum, summary) => sum + summary.rounds, 0),
      served,
      redisCallsPerRequest: pooled((summary) => summary.redisCallsPerRequest),
      insideScriptCallsPerRequest: pooled((summary) => summary.insideScriptCallsPerRequest),
      pgStatementsPerRequest: pooled((summary) => summary.pgStatementsPerRequest),
      pgRoundTripsPerRequest: pooled((summary) => summary.pgRoundTripsPerRequest),
      problems: summaries.flatMap((summary, run) =>
        summary.problems.map((problem) => (runs.length > 1 ? `run ${run + 1}, ${problem}` : problem)),
      ),
      runs: summaries.length,
      spread,
    };
  });
}
