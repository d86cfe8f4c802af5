import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { createClient } from 'redis';

type NodeRedisClient = ReturnType<typeof createClient>;

/**
 * An experiment, not a product: the members of an ioredis client that RedisStore uses (`defineCommand`,
 * `status`, and `info` for its eviction check), on top of a node-redis client. Without `duplicate()` it
 * makes no subscriber, so waiting duplicates poll; the benchmark has none. node-redis writes all the commands of
 * one tick in one `write()`, where ioredis makes one syscall per command. Running the unchanged
 * RedisStore over it shows what a write-coalescing client would win; see BENCHMARKS.md.
 */
export function nodeRedisAsIoredis(client: NodeRedisClient): Redis {
  const shim: Record<string, unknown> = {
    get status() {
      return client.isReady ? 'ready' : 'reconnecting';
    },
    info(section: string) {
      return client.info(section);
    },
    defineCommand(name: string, definition: { numberOfKeys: number; lua: string }) {
      const sha = createHash('sha1').update(definition.lua).digest('hex');
      shim[name] = async (...args: Array<string | number>) => {
        const keys = args.slice(0, definition.numberOfKeys).map(String);
        const rest = args.slice(definition.numberOfKeys).map(String);
        try {
          return await client.evalSha(sha, { keys, arguments: rest });
        } catch (error) {
          if (!String((error as Error)?.message).includes('NOSCRIPT')) throw error;
          return client.eval(definition.lua, { keys, arguments: rest });
        }
      };
    },
  };
  return shim as unknown as Redis;
}
