import { describe, expect, it } from 'vitest';
import { combineRuns, summarise } from '../../bench/src/aggregate';
import { type CommandCounts, commandDelta } from '../../bench/src/commandStats';
import { MEMORY_VS_REDIS_CPU_BAND, memoryNotSlowerThanRedis } from '../../bench/src/gates';
import { readHeadline } from '../../bench/src/headline';
import { LATEST_JSON, readOptions } from '../../bench/src/options';
import { SCENARIOS } from '../../bench/src/scenarios';
import type { ScenarioResult } from '../../bench/src/serverBench';
import { percentile } from '../../bench/src/stats';

const counts = (entries: Record<string, number>): CommandCounts =>
  new Map(Object.entries(entries).map(([name, calls]) => [name, { calls, usec: calls * 10 }]));

describe('commandDelta', () => {
  it('counts script calls once, not the commands the scripts ran inside Redis, and skips housekeeping', () => {
    const before = counts({ evalsha: 10, hmget: 10, hset: 10, info: 3 });
    const after = counts({
      evalsha: 30,
      eval: 1,
      hmget: 31,
      hset: 30,
      pexpire: 20,
      time: 11,
      info: 9,
      'cluster|slots': 2,
    });
    const delta = commandDelta(before, after);
    expect(delta.topLevel).toBe(21);
    expect(delta.insideScripts).toBe(21 + 20 + 20 + 11);
    expect(delta.topLevelUsec).toBe(210);
  });

  it('counts plain commands as top-level when no script ran', () => {
    const delta = commandDelta(counts({}), counts({ set: 40, get: 2, hset: 5 }));
    expect(delta.topLevel).toBe(47);
    expect(delta.insideScripts).toBe(0);
  });
});

describe('percentile', () => {
  it('takes the nearest rank', () => {
    const sorted = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(sorted, 0.5)).toBe(50);
    expect(percentile(sorted, 0.99)).toBe(99);
    expect(percentile([], 0.5)).toBeNaN();
  });
});

describe('summarise', () => {
  const plain = SCENARIOS.find((scenario) => scenario.id === 'plain')!;
  const fresh = SCENARIOS.find((scenario) => scenario.id === 'redis-fresh')!;
  const plainIo = SCENARIOS.find((scenario) => scenario.id === 'plain-io')!;
  const freshIo = SCENARIOS.find((scenario) => scenario.id === 'redis-fresh-io')!;
  const result = (scenario: typeof plain, rps: number, p50Ms: number, serverCpuUsPerRequest = 300): ScenarioResult => ({
    scenario,
    connections: 64,
    requests: rps,
    rps,
    p50Ms,
    p99Ms: p50Ms * 2,
    statuses: { 200: rps },
    errors: 0,
    timeouts: 0,
    served: rps,
    redisCalls: scenario.redisCallsPerRequest * rps,
    redisCallsPerRequest: scenario.redisCallsPerRequest,
    serverCpuUsPerRequest,
    redisUsPerRequest: 20,
    insideScriptCallsPerRequest: 0,
    handlerRunsPerRequest: 1,
    pgStatementsPerRequest: Number.NaN,
    pgRoundTripsPerRequest: Number.NaN,
    problems: [],
  });

  it('takes each ratio against the plain run of the same round, then the median over rounds', () => {
    // Round 2 is a slow spell for both: the pairwise ratios stay 0.9 while the raw figures swing.
    const rounds = [
      [result(plain, 1000, 10), result(fresh, 900, 11)],
      [result(plain, 500, 20), result(fresh, 450, 22)],
      [result(plain, 1000, 10), result(fresh, 900, 12)],
    ];
    const summary = summarise(rounds).find((s) => s.scenario.id === 'redis-fresh')!;
    expect(summary.rounds).toBe(3);
    expect(summary.ratioToBaseline).toBeCloseTo(0.9);
    expect(summary.rps).toBe(900);
    expect(summary.addedP50Ms).toBe(2);
    expect(summary.redisCallsPerRequest).toBe(2);
  });

  it("takes a scenario's ratio against its own baseline: the I/O scenarios against plain-io, not plain", () => {
    const rounds = [
      [result(plain, 1000, 10, 250), result(plainIo, 800, 12, 280), result(freshIo, 760, 13, 310)],
      [result(plain, 1000, 10, 250), result(plainIo, 400, 24, 290), result(freshIo, 380, 25, 330)],
    ];
    const summaries = summarise(rounds);
    const io = summaries.find((s) => s.scenario.id === 'redis-fresh-io')!;
    expect(io.ratioToBaseline).toBeCloseTo(0.95);
    expect(io.addedP50Ms).toBe(1);
    expect(io.addedServerCpuUs).toBe(30);
    expect(summaries.find((s) => s.scenario.id === 'plain-io')!.ratioToBaseline).toBeCloseTo(0.4);
  });

  it('takes the ratio to plain-hop and the added CPU as a share of plain, each against the same round', () => {
    const hop = SCENARIOS.find((scenario) => scenario.id === 'plain-hop')!;
    const rounds = [
      [result(plain, 1000, 10, 200), result(hop, 800, 11, 220), result(fresh, 880, 11, 250)],
      [result(plain, 500, 20, 400), result(hop, 400, 22, 440), result(fresh, 440, 22, 500)],
    ];
    const summary = summarise(rounds).find((s) => s.scenario.id === 'redis-fresh')!;
    expect(summary.ratioToPlainHop).toBeCloseTo(1.1);
    expect(summary.ratioToBaseline).toBeCloseTo(0.88);
    expect(summary.addedServerCpuPct).toBeCloseTo(25);
  });

  it('folds full runs into the median of their medians with the min–max, and pools the counts', () => {
    const hop = SCENARIOS.find((scenario) => scenario.id === 'plain-hop')!;
    const run = (freshRps: number, freshCpu: number) =>
      summarise([[result(plain, 1000, 10, 200), result(hop, 800, 11, 220), result(fresh, freshRps, 11, freshCpu)]]);
    const combined = combineRuns([run(900, 230), run(1100, 260), run(950, 240)]);
    const fresh64 = combined.find((s) => s.scenario.id === 'redis-fresh')!;
    expect(fresh64.runs).toBe(3);
    expect(fresh64.ratioToBaseline).toBeCloseTo(0.95);
    expect(fresh64.spread.ratioToBaseline.min).toBeCloseTo(0.9);
    expect(fresh64.spread.ratioToBaseline.max).toBeCloseTo(1.1);
    expect(fresh64.addedServerCpuUs).toBe(40);
    expect(fresh64.spread.addedServerCpuUs.runs).toEqual([30, 60, 40]);
    expect(fresh64.served).toBe(900 + 1100 + 950);
    expect(fresh64.redisCallsPerRequest).toBe(2);
    const headline = readHeadline(combined, 1)!;
    expect(headline.variants.map((variant) => variant.id)).toEqual(['plain', 'plain-hop', 'redis-fresh']);
    expect(headline.variants[2]!.addedCpuPct).toMatchObject({ median: 20, min: 15, max: 30 });
    expect(headline.variants[2]!.ratioToPlainHop.median).toBeCloseTo(950 / 800);
  });

  it('fails the run only when MemoryStore costs more CPU per request than RedisStore beyond the noise band', () => {
    const memory = SCENARIOS.find((scenario) => scenario.id === 'memory-fresh')!;
    const round = (memoryCpu: number) => [
      [result(plain, 1000, 10, 250), result(fresh, 900, 11, 300), result(memory, 950, 10, memoryCpu)],
    ];
    expect(memoryNotSlowerThanRedis(summarise(round(300 * MEMORY_VS_REDIS_CPU_BAND)))?.problem).toBeUndefined();
    expect(memoryNotSlowerThanRedis(summarise(round(300 * MEMORY_VS_REDIS_CPU_BAND + 1)))?.problem).toMatch(/slower/);
    expect(memoryNotSlowerThanRedis(summarise([[result(plain, 1000, 10)]]))).toBeUndefined();
  });

  it('lets a recheck within the band clear one noisy measure, and fails when every recheck is outside it too', () => {
    const memory = SCENARIOS.find((scenario) => scenario.id === 'memory-fresh')!;
    const noisy = summarise([
      [result(plain, 1000, 10, 250), result(fresh, 900, 11, 300), result(memory, 950, 10, 400)],
    ]);
    expect(memoryNotSlowerThanRedis(noisy, [{ memoryCpuUs: 290, redisCpuUs: 300 }])?.problem).toBeUndefined();
    expect(
      memoryNotSlowerThanRedis(noisy, [
        { memoryCpuUs: 400, redisCpuUs: 300 },
        { memoryCpuUs: 390, redisCpuUs: 300 },
      ])?.problem,
    ).toMatch(/slower/);
  });
});

describe('readOptions', () => {
  it('writes bench/results/latest.json for --json without a file, and keeps --json <file>', () => {
    expect(readOptions(['--json']).json).toBe(LATEST_JSON);
    expect(readOptions(['--json', '--quick']).json).toBe(LATEST_JSON);
    expect(readOptions(['--json', '/tmp/x.json']).json).toBe('/tmp/x.json');
    expect(LATEST_JSON).toMatch(/bench\/results\/latest\.json$/);
  });

  it('repeats a full run three times by default, once for --quick', () => {
    expect(readOptions([]).runs).toBe(3);
    expect(readOptions(['--quick']).runs).toBe(1);
    expect(readOptions(['--runs', '5']).runs).toBe(5);
  });
});
