import 'vitest';
import type { TestProject } from 'vitest/node';
import {
  assertRedisServerInstalled,
  hasRedisServer,
  type RedisClusterProcess,
  type RedisProcess,
  startRedis,
  startRedisCluster,
} from './support/redisServer.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A single Redis node for the tests: REDIS_URL if set, otherwise a private redis-server. */
    redisUrl: string;
    /** The startup nodes of a private 3-master Redis Cluster, or null when REDIS_URL was given and there is no redis-server. */
    redisCluster: Array<{ host: string; port: number }> | null;
  }
}

/** Starts the private Redis servers every test file shares, and stops them after the run. */
export default async function setup(project: TestProject) {
  const external = process.env.REDIS_URL;
  if (!external) assertRedisServerInstalled();
  const [single, cluster]: [RedisProcess | undefined, RedisClusterProcess | undefined] = await Promise.all([
    external ? undefined : startRedis(),
    hasRedisServer() ? startRedisCluster(3, 0) : undefined,
  ]);
  project.provide('redisUrl', external ?? single!.url);
  project.provide('redisCluster', cluster?.startupNodes ?? null);
  return async () => {
    await Promise.all([single?.stop(), cluster?.stop()]);
  };
}
