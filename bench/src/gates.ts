import type { ScenarioSummary } from './aggregate';
import { findSummary } from './report';
import { fixed } from './table';

/**
 * How much more server CPU per request a fresh MemoryStore request may measure than a fresh RedisStore
 * one before the run fails. MemoryStore does strictly less (no Redis client, no socket), so it should
 * never cost more; but `--quick` measures one 1 s window of each on a shared 2-core machine. There, the
 * CPU per request of one scenario moved by up to 20 % between quick runs (plain at 64: 210 to 304 µs),
 * while two scenarios measured one right after the other moved together (MemoryStore ÷ RedisStore:
 * 1.01 and 0.98 in two runs). 15 % lies well outside that, and well inside a real regression. Later, with
 * another engineer's work on the same cores, one quick run in about ten measured 1.17; so a failed first
 * measure is rechecked with up to two more pairs of short runs, and the gate fails only if none keeps the band.
 */
export const MEMORY_VS_REDIS_CPU_BAND = 1.15;

/** The outcome of a gate: a line for the report, and a problem when it failed. */
export interface GateResult {
  line: string;
  problem?: string;
}

/**
 * MemoryStore must never be slower than RedisStore. Judged by server CPU per request at 64 connections,
 * which a busy neighbour on the machine moves much less than requests per second.
 */
export function memoryNotSlowerThanRedis(
  summaries: ScenarioSummary[],
  rechecks: ReadonlyArray<{ memoryCpuUs: number; redisCpuUs: number }> = [],
): GateResult | undefined {
  const memory = findSummary(summaries, 'memory-fresh', 64);
  const redis = findSummary(summaries, 'redis-fresh', 64);
  if (!memory || !redis) return undefined;
  const ceiling = redis.serverCpuUsPerRequest * MEMORY_VS_REDIS_CPU_BAND;
  // A recheck that keeps the band clears a first measure that did not: one noisy window is not a regression.
  const recheckPassed = rechecks.some((pair) => pair.memoryCpuUs <= pair.redisCpuUs * MEMORY_VS_REDIS_CPU_BAND);
  const passed = memory.serverCpuUsPerRequest <= ceiling || recheckPassed;
  const rechecked = rechecks.length
    ? `; rechecked ${rechecks.map((pair) => `${fixed(pair.memoryCpuUs, 0)} vs ${fixed(pair.redisCpuUs, 0)}`).join(', ')}`
    : '';
  const figures = `MemoryStore fresh ${fixed(memory.serverCpuUsPerRequest, 0)} µs/req, RedisStore fresh ${fixed(redis.serverCpuUsPerRequest, 0)} µs/req, ceiling ${fixed(ceiling, 0)}${rechecked}`;
  return {
    line:
      `Gate: MemoryStore fresh server CPU/req ≤ ${MEMORY_VS_REDIS_CPU_BAND} × RedisStore fresh's at 64 connections ` +
      `(${Math.round((MEMORY_VS_REDIS_CPU_BAND - 1) * 100)} % noise band; the run exits non-zero otherwise): ${figures}: ${passed ? 'ok' : 'FAILED'}.`,
    problem: passed ? undefined : `MemoryStore fresh is slower than RedisStore fresh: ${figures}`,
  };
}
