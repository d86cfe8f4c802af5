import { percentile } from './stats';
import { rawScripts } from './storeContenders';

/** What two sequential script round trips take on their own: the latency a fresh RedisStore request cannot go below. */
export interface ScriptFloor {
  cycles: number;
  p50Ms: number;
  p99Ms: number;
}

/**
 * Times claim + complete by EVALSHA, one cycle after the other (concurrency 1), through the store
 * comparison's reference contender: the same two scripts as RedisStore, with no SDK code around them.
 * A fresh RedisStore request at 1 connection adds these two round trips to a plain one, plus its CPU.
 */
export async function measureScriptFloor(redisUrl: string, cycles: number): Promise<ScriptFloor> {
  const open = await rawScripts('ioredis').open(redisUrl);
  const prefix = `floor-${Date.now().toString(36)}`;
  try {
    // Warm-up: the scripts' first run, ioredis's and V8's first passes.
    for (let i = 0; i < Math.min(500, cycles); i++) await open.cycle(`${prefix}-warm-${i}`);
    const ms: number[] = [];
    for (let i = 0; i < cycles; i++) {
      const startedAt = performance.now();
      await open.cycle(`${prefix}-${i}`);
      ms.push(performance.now() - startedAt);
    }
    ms.sort((a, b) => a - b);
    return { cycles, p50Ms: percentile(ms, 0.5), p99Ms: percentile(ms, 0.99) };
  } finally {
    await open.close();
  }
}
