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
  /** Median over the rounds of this round's p50 minus its baseline's p50 in the same round. */
  addedP50Ms: number;
  /** Median over the rounds of this round's server CPU per request minus its baseline's in the same round. */
  addedServerCpuUs: number;
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
    const paired = results
      .map((result) => ({ result, base: runOf.get(`${roundOf.get(result)}:${baseline}@${result.connections}`) }))
      .filter((pair): pair is { result: ScenarioResult; base: ScenarioResult } => pair.base !== undefined);
    const served = results.reduce((sum, result) => sum + result.served, 0);
    return {
      scenario: first.scenario,
      connections: first.connections,
      rounds: results.length,
      rps: median(results.map((result) => result.rps)),
      p50Ms: median(results.map((result) => result.p50Ms)),
      p99Ms: median(results.map((result) => result.p99Ms)),
      ratioToBaseline: median(paired.map(({ result, base }) => result.rps / base.rps)),
      addedP50Ms: median(paired.map(({ result, base }) => result.p50Ms - base.p50Ms)),
      addedServerCpuUs: median(
        paired.map(({ result, base }) => result.serverCpuUsPerRequest - base.serverCpuUsPerRequest),
      ),
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
