import 'vitest';
import type { TestProject } from 'vitest/node';
import { type MySqlDatabase, openMySqlTestDatabase } from './support/mysqlDatabase.js';
import { openTestDatabase, type PostgresDatabase } from './support/postgresDatabase.js';
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
    /** A database the tests may create tables in, or null when there is no PostgreSQL (the tests skip, except under CI=true). */
    postgresUrl: string | null;
    /** A MariaDB (or MySQL) database the tests may create tables and procedures in, or null when there is none (the tests skip, except under CI=true). */
    mysqlUrl: string | null;
  }
}

/** Starts the private Redis servers every test file shares, and stops them after the run. */
export default async function setup(project: TestProject) {
  const external = process.env.REDIS_URL;
  if (!external) assertRedisServerInstalled();
  const [single, cluster, postgres, mysql]: [
    RedisProcess | undefined,
    RedisClusterProcess | undefined,
    PostgresDatabase | undefined,
    MySqlDatabase | undefined,
  ] = await Promise.all([
    external ? undefined : startRedis(),
    hasRedisServer() ? startRedisCluster(3, 0) : undefined,
    openTestDatabase(),
    openMySqlTestDatabase(),
  ]);
  project.provide('redisUrl', external ?? single!.url);
  project.provide('redisCluster', cluster?.startupNodes ?? null);
  project.provide('postgresUrl', postgres?.url ?? null);
  project.provide('mysqlUrl', mysql?.url ?? null);
  return async () => {
    await Promise.all([single?.stop(), cluster?.stop(), postgres?.drop(), mysql?.drop()]);
  };
}
