import { Redis } from 'ioredis';
import { hasRedisServer, startRedis, startRedisCluster } from '../../test/support/redisServer';

/** The Redis servers one benchmark run uses. */
export interface BenchRedis {
  url: string;
  /** Where the url came from: a private server this run started, or `REDIS_URL`. */
  source: 'private' | 'REDIS_URL';
  version: string;
  /** The cluster's masters; absent when no redis-server binary could start one. */
  clusterNodes?: Array<{ host: string; port: number }>;
  stop(): Promise<void>;
}

/** Starts a private redis-server on a free port (or uses `REDIS_URL`) and a 3-master cluster. */
export async function setUpRedis(options: { cluster: boolean }): Promise<BenchRedis> {
  const external = process.env.REDIS_URL;
  const single = external ? undefined : await startRedis();
  const url = external ?? single!.url;
  const cluster = options.cluster && hasRedisServer() ? await startRedisCluster(3, 0) : undefined;
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await probe.connect();
  const info = await probe.info('server');
  probe.disconnect();
  return {
    url,
    source: external ? 'REDIS_URL' : 'private',
    version: /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown',
    clusterNodes: cluster?.startupNodes,
    async stop() {
      await Promise.all([single?.stop(), cluster?.stop()]);
    },
  };
}
