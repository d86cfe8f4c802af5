import { Redis } from 'ioredis';

/** Calls and microseconds spent per command name, from `INFO commandstats`. */
export type CommandCounts = Map<string, { calls: number; usec: number }>;

/** The commands that start a script. Redis counts a script's own `redis.call`s in commandstats too. */
const SCRIPT_ENTRY = new Set(['eval', 'evalsha', 'eval_ro', 'evalsha_ro', 'fcall', 'fcall_ro']);

/**
 * The commands RedisStore's Lua scripts call from inside (see packages/server/src/store/redisScripts.ts).
 * They are counted under their own names, so they are left out of the top-level figure whenever a
 * script ran in the same window. RedisStore sends no top-level command of these names.
 */
const CALLED_INSIDE_OUR_SCRIPTS = new Set(['hmget', 'hset', 'hdel', 'pexpire', 'time', 'publish', 'spublish']);

/** Connection housekeeping by clients and by this benchmark; not part of serving a request. */
const HOUSEKEEPING = /^(info|ping|select|hello|command|cluster\||client\||config\|)/;

/** Reads `INFO commandstats` from each node. */
export async function readCommandCounts(urls: string[]): Promise<CommandCounts> {
  const counts: CommandCounts = new Map();
  await Promise.all(
    urls.map(async (url) => {
      const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
      await redis.connect();
      try {
        const text = await redis.info('commandstats');
        for (const match of text.matchAll(/^cmdstat_(\S+?):calls=(\d+),usec=(\d+)/gm)) {
          const seen = counts.get(match[1]!) ?? { calls: 0, usec: 0 };
          counts.set(match[1]!, { calls: seen.calls + Number(match[2]), usec: seen.usec + Number(match[3]) });
        }
      } finally {
        redis.disconnect();
      }
    }),
  );
  return counts;
}

/** What the clients sent in a window: top-level calls, and the calls scripts made inside Redis. */
export interface CommandDelta {
  topLevel: number;
  insideScripts: number;
  byName: Record<string, number>;
  /** Time Redis spent running the top-level calls (a script's time includes the calls it makes). */
  topLevelUsec: number;
}

/** The difference between two readings, split into top-level calls and calls made inside scripts. */
export function commandDelta(before: CommandCounts, after: CommandCounts): CommandDelta {
  const byName: Record<string, number> = {};
  const usecByName: Record<string, number> = {};
  for (const [name, { calls, usec }] of after) {
    const delta = calls - (before.get(name)?.calls ?? 0);
    if (delta > 0 && !HOUSEKEEPING.test(name)) {
      byName[name] = delta;
      usecByName[name] = usec - (before.get(name)?.usec ?? 0);
    }
  }
  const scriptsRan = Object.keys(byName).some((name) => SCRIPT_ENTRY.has(name));
  let topLevel = 0;
  let insideScripts = 0;
  let topLevelUsec = 0;
  for (const [name, delta] of Object.entries(byName)) {
    if (scriptsRan && CALLED_INSIDE_OUR_SCRIPTS.has(name)) {
      insideScripts += delta;
    } else {
      topLevel += delta;
      topLevelUsec += usecByName[name] ?? 0;
    }
  }
  return { topLevel, insideScripts, byName, topLevelUsec };
}

/** Waits until no node's command counts move for a short while, so late in-flight calls are included. */
export async function settledCommandCounts(urls: string[]): Promise<CommandCounts> {
  let previous = await readCommandCounts(urls);
  for (let attempt = 0; attempt < 50; attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    const next = await readCommandCounts(urls);
    if (
      totalCalls(next) - (next.get('info')?.calls ?? 0) ===
      totalCalls(previous) - (previous.get('info')?.calls ?? 0)
    ) {
      return next;
    }
    previous = next;
  }
  return previous;
}

function totalCalls(counts: CommandCounts): number {
  let total = 0;
  for (const { calls } of counts.values()) total += calls;
  return total;
}
