import type { ScenarioSummary } from './aggregate';
import { findSummary, type TargetCheck } from './report';
import type { ScriptFloor } from './scriptFloor';
import { fixed } from './table';

/*
 * The server targets of issue 12, in the order of its table. Costs and ratios are read at 64
 * connections, where the server is saturated and its CPU per request decides its throughput.
 */

const ratio = (summary: ScenarioSummary | undefined) => fixed(summary?.ratioToBaseline ?? Number.NaN, 3);
const us = (value: number | undefined) => fixed(value ?? Number.NaN, 0);
const signed = (value: number | undefined, decimals: number) =>
  value !== undefined && value >= 0 ? `+${fixed(value, decimals)}` : fixed(value ?? Number.NaN, decimals);

function atMost(value: number | undefined, ceiling: number): boolean | undefined {
  return value === undefined || !Number.isFinite(value) ? undefined : value <= ceiling;
}

function atLeast(value: number | undefined, floor: number): boolean | undefined {
  return value === undefined || !Number.isFinite(value) ? undefined : value >= floor;
}

/** What the SDK adds to a request in server CPU, and the throughput that leaves, against the plain mutation. */
export function costTargets(summaries: ScenarioSummary[]): TargetCheck[] {
  const plain64 = findSummary(summaries, 'plain', 64);
  const fresh64 = findSummary(summaries, 'redis-fresh', 64);
  const replay64 = findSummary(summaries, 'redis-replay', 64);
  const memory64 = findSummary(summaries, 'memory-fresh', 64);
  const uncoalesced64 = findSummary(summaries, 'redis-fresh-uncoalesced', 64);
  const nodeRedis64 = findSummary(summaries, 'redis-fresh-node-redis', 64);
  // Each added figure is the median of per-round differences, so it can differ a little from the two medians shown.
  const added = (summary: ScenarioSummary | undefined) =>
    summary && plain64
      ? `${signed(summary.addedServerCpuUs, 0)} µs (${us(summary.serverCpuUsPerRequest)} vs ${us(plain64.serverCpuUsPerRequest)} µs/req)`
      : 'not run';
  const memoryMet =
    memory64 && fresh64
      ? (atLeast(memory64.ratioToBaseline, 0.95) ?? false) && memory64.ratioToBaseline >= fresh64.ratioToBaseline
      : undefined;
  return [
    {
      target: 'server CPU the SDK adds to a fresh RedisStore request ≤ 35 µs (64 connections)',
      measured: added(fresh64),
      met: atMost(fresh64?.addedServerCpuUs, 35),
    },
    {
      target: 'server CPU the SDK adds to a RedisStore replay ≤ 20 µs (64 connections)',
      measured: added(replay64),
      met: atMost(replay64?.addedServerCpuUs, 20),
    },
    {
      target: 'fresh RedisStore req/s ≥ 0.90 × plain (64 connections)',
      measured: `${ratio(fresh64)} (coalesceWrites off: ${ratio(uncoalesced64)}; over node-redis: ${ratio(nodeRedis64)})`,
      met: atLeast(fresh64?.ratioToBaseline, 0.9),
    },
    {
      target: 'RedisStore replay req/s ≥ 0.95 × plain (64 connections)',
      measured: ratio(replay64),
      met: atLeast(replay64?.ratioToBaseline, 0.95),
    },
    {
      target: 'MemoryStore fresh req/s ≥ 0.95 × plain, and not below fresh RedisStore (64 connections)',
      measured: `${ratio(memory64)} (RedisStore: ${ratio(fresh64)})`,
      met: memoryMet,
    },
  ];
}

/** A handler that waits 1 ms on I/O, as real ones wait on a database: the SDK's share of such a request. */
export function ioTargets(summaries: ScenarioSummary[]): TargetCheck[] {
  const fresh64 = findSummary(summaries, 'redis-fresh-io', 64);
  const fresh1 = findSummary(summaries, 'redis-fresh-io', 1);
  const memory64 = findSummary(summaries, 'memory-fresh-io', 64);
  return [
    {
      target:
        'a handler that does 1 ms of I/O: fresh RedisStore req/s ≥ 0.97 × plain with the same I/O (64 connections)',
      measured: `${ratio(fresh64)} (1 connection: ${ratio(fresh1)}; MemoryStore at 64: ${ratio(memory64)})`,
      met: atLeast(fresh64?.ratioToBaseline, 0.97),
    },
  ];
}

/** The latency a fresh request adds at 1 connection, next to the two script round trips it cannot go below. */
export function latencyTargets(summaries: ScenarioSummary[], floor: ScriptFloor | undefined): TargetCheck[] {
  const fresh1 = findSummary(summaries, 'redis-fresh', 1);
  const plain1 = findSummary(summaries, 'plain', 1);
  const ms = (value: number | undefined) => fixed(value ?? Number.NaN, 3);
  const floorText = floor
    ? `floor: two script round trips ${ms(floor.p50Ms)} ms p50 (EVALSHA claim + complete, ${floor.cycles} cycles)`
    : 'floor: not measured';
  return [
    {
      target: 'added p50 of a fresh RedisStore request ≤ +0.20 ms (1 connection; two round trips are the floor)',
      measured:
        fresh1 && plain1
          ? `${signed(fresh1.addedP50Ms, 3)} ms (p50 ${ms(fresh1.p50Ms)} vs ${ms(plain1.p50Ms)} ms; ${floorText})`
          : 'not run',
      met: atMost(fresh1?.addedP50Ms, 0.2),
    },
  ];
}

/** Redis commands per request under load; the MONITOR audit checks the same exactly. */
export function commandTargets(summaries: ScenarioSummary[]): TargetCheck[] {
  const calls = (id: string) =>
    summaries.filter((summary) => summary.scenario.id === id).map((summary) => summary.redisCallsPerRequest);
  // The MONITOR audit counts exactly; the figures under load may be off by the requests cut at a window's edge.
  const exact = (values: number[], expected: number) =>
    values.length > 0 ? values.every((value) => Math.abs(value - expected) <= 0.01) : undefined;
  const freshCalls = [
    ...calls('redis-fresh'),
    ...calls('redis-fresh-uncoalesced'),
    ...calls('redis-fresh-node-redis'),
    ...calls('cluster-fresh'),
    ...calls('redis-fresh-io'),
  ];
  return [
    {
      target: 'a fresh request uses exactly 2 Redis commands (single node and Cluster)',
      measured: freshCalls.map((value) => fixed(value, 3)).join(', '),
      met: exact(freshCalls, 2),
    },
    {
      target: 'a replay uses exactly 1 Redis command',
      measured: calls('redis-replay')
        .map((value) => fixed(value, 3))
        .join(', '),
      met: exact(calls('redis-replay'), 1),
    },
  ];
}
