/** One server scenario: a procedure of the bench router, and what a correct run of it looks like. */
export interface Scenario {
  id:
    | 'plain'
    | 'plain-hop'
    | 'memory-fresh'
    | 'redis-fresh'
    | 'redis-fresh-uncoalesced'
    | 'redis-fresh-node-redis'
    | 'redis-replay'
    | 'cluster-fresh'
    | 'redis-conflict'
    | 'plain-io'
    | 'memory-fresh-io'
    | 'redis-fresh-io'
    | 'pg-plain-write'
    | 'pg-fresh'
    | 'pg-replay'
    | 'pg-tx-fresh';
  label: string;
  /** The procedure of the bench router (app.ts) that it calls. */
  path:
    | 'plain'
    | 'plainHop'
    | 'memory'
    | 'redis'
    | 'redisUncoalesced'
    | 'redisNodeRedis'
    | 'cluster'
    | 'conflict'
    | 'plainIo'
    | 'memoryIo'
    | 'redisIo'
    | 'pgPlainWrite'
    | 'pg'
    | 'pgTx';
  /** `fresh`: a new key per request; `replay`: one key completed beforehand; `conflict`: one key whose holder is still running. */
  keys: 'none' | 'fresh' | 'replay' | 'conflict';
  /** The HTTP status every measured request must get. */
  status: 200 | 409;
  /** Top-level Redis calls per request that a correct run makes. */
  redisCallsPerRequest: number;
  /** Handler runs per request that a correct run makes. */
  handlerRunsPerRequest: 0 | 1;
  needsCluster?: boolean;
  /**
   * A PostgresStore scenario: the statements PostgreSQL runs per request (pg_stat_statements, top level)
   * and the round trips the server's pg clients make per request, as a correct run makes them.
   */
  postgres?: { statementsPerRequest: number; roundTripsPerRequest: number };
  /** A variant of the store's client rather than a scenario of the issue; `--quick` runs it at 64 connections only. */
  experiment?: boolean;
  /**
   * The scenario whose run of the same round its ratio and added p50 are taken against (default `plain`):
   * a handler that waits on I/O is compared with the plain mutation waiting on the same I/O.
   */
  baseline?: Scenario['id'];
  /**
   * A variant of the headline: it runs in a server process of its own that serves only its procedure
   * (see serverFleet.ts), so no other scenario's code, garbage or JIT state shares its process.
   */
  ownProcess?: boolean;
}

/**
 * Every server scenario, in the order they run. They share one router (app.ts) and one payload; the
 * `ownProcess` ones each run in a process serving only their procedure, the rest in one shared process.
 */
export const SCENARIOS: readonly Scenario[] = [
  {
    id: 'plain',
    label: 'plain tRPC mutation',
    path: 'plain',
    keys: 'none',
    status: 200,
    redisCallsPerRequest: 0,
    handlerRunsPerRequest: 1,
    ownProcess: true,
  },
  // The baseline that takes the same asynchronous hop as the SDK: the plain handler first awaits one
  // claim-sized EVALSHA to the same Redis (a script that only returns), then answers.
  {
    id: 'plain-hop',
    label: 'plain tRPC mutation, handler awaits one claim-sized Redis round trip',
    path: 'plainHop',
    keys: 'none',
    status: 200,
    redisCallsPerRequest: 1,
    handlerRunsPerRequest: 1,
    ownProcess: true,
  },
  {
    id: 'memory-fresh',
    label: 'MemoryStore, fresh key',
    path: 'memory',
    keys: 'fresh',
    status: 200,
    redisCallsPerRequest: 0,
    handlerRunsPerRequest: 1,
    ownProcess: true,
  },
  {
    id: 'redis-fresh',
    label: 'RedisStore, fresh key',
    path: 'redis',
    keys: 'fresh',
    status: 200,
    redisCallsPerRequest: 2,
    handlerRunsPerRequest: 1,
    ownProcess: true,
  },
  {
    id: 'redis-fresh-uncoalesced',
    label: 'RedisStore, fresh key, coalesceWrites: false (ioredis writes each command)',
    path: 'redisUncoalesced',
    keys: 'fresh',
    status: 200,
    redisCallsPerRequest: 2,
    handlerRunsPerRequest: 1,
    experiment: true,
  },
  {
    id: 'redis-fresh-node-redis',
    label: 'experiment: RedisStore over node-redis, fresh key',
    path: 'redisNodeRedis',
    keys: 'fresh',
    status: 200,
    redisCallsPerRequest: 2,
    handlerRunsPerRequest: 1,
    experiment: true,
  },
  {
    id: 'redis-replay',
    label: 'RedisStore, replay',
    path: 'redis',
    keys: 'replay',
    status: 200,
    redisCallsPerRequest: 1,
    handlerRunsPerRequest: 0,
    ownProcess: true,
  },
  {
    id: 'cluster-fresh',
    label: 'RedisStore on Cluster, fresh key',
    path: 'cluster',
    keys: 'fresh',
    status: 200,
    redisCallsPerRequest: 2,
    handlerRunsPerRequest: 1,
    needsCluster: true,
  },
  {
    id: 'redis-conflict',
    label: 'RedisStore, duplicate in progress (409)',
    path: 'conflict',
    keys: 'conflict',
    status: 409,
    redisCallsPerRequest: 1,
    handlerRunsPerRequest: 0,
  },
  // The handler of these three makes one socket round trip to a local echo service that answers after a
  // 1 ms timer (ioEcho.ts): a real request waits on a database or an API, and pays the socket's CPU too.
  {
    id: 'plain-io',
    label: 'plain tRPC mutation, handler with 1 ms of I/O (echo round trip)',
    path: 'plainIo',
    keys: 'none',
    status: 200,
    redisCallsPerRequest: 0,
    handlerRunsPerRequest: 1,
  },
  {
    id: 'memory-fresh-io',
    label: 'MemoryStore, fresh key, handler with 1 ms of I/O (vs plain-io)',
    path: 'memoryIo',
    keys: 'fresh',
    status: 200,
    redisCallsPerRequest: 0,
    handlerRunsPerRequest: 1,
    baseline: 'plain-io',
  },
  {
    id: 'redis-fresh-io',
    label: 'RedisStore, fresh key, handler with 1 ms of I/O (vs plain-io)',
    path: 'redisIo',
    keys: 'fresh',
    status: 200,
    redisCallsPerRequest: 2,
    handlerRunsPerRequest: 1,
    baseline: 'plain-io',
  },
  {
    id: 'pg-plain-write',
    label: 'plain tRPC mutation writing its row to PostgreSQL',
    path: 'pgPlainWrite',
    keys: 'none',
    status: 200,
    redisCallsPerRequest: 0,
    handlerRunsPerRequest: 1,
    postgres: { statementsPerRequest: 1, roundTripsPerRequest: 1 },
  },
  {
    id: 'pg-fresh',
    label: 'PostgresStore, fresh key',
    path: 'pg',
    keys: 'fresh',
    status: 200,
    redisCallsPerRequest: 0,
    handlerRunsPerRequest: 1,
    // claim, complete
    postgres: { statementsPerRequest: 2, roundTripsPerRequest: 2 },
  },
  {
    id: 'pg-replay',
    label: 'PostgresStore, replay',
    path: 'pg',
    keys: 'replay',
    status: 200,
    redisCallsPerRequest: 0,
    handlerRunsPerRequest: 0,
    postgres: { statementsPerRequest: 1, roundTripsPerRequest: 1 },
  },
  {
    id: 'pg-tx-fresh',
    label: 'PostgresStore, transaction: true, fresh key, writing its row',
    path: 'pgTx',
    keys: 'fresh',
    status: 200,
    redisCallsPerRequest: 0,
    handlerRunsPerRequest: 1,
    // BEGIN; claim; COMMIT; BEGIN | INSERT | complete; COMMIT
    postgres: { statementsPerRequest: 7, roundTripsPerRequest: 3 },
  },
];

/** Connection counts every scenario runs at. */
export const CONNECTIONS = [1, 64] as const;
