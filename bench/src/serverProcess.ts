/*
 * The server under load. It runs in its own process, apart from the load generator, so that the two
 * do not share one event loop. The runner talks to it over the fork IPC channel (see serverHandle.ts).
 */
import type { AddressInfo } from 'node:net';
import { PerformanceObserver, constants as perfConstants } from 'node:perf_hooks';
import { createHTTPServer } from '@trpc/server/adapters/standalone';
import { PostgresStore } from '@trpc-idempotency/postgres';
import { MemoryStore, RedisStore } from '@trpc-idempotency/server';
import { Cluster, Redis } from 'ioredis';
import pg from 'pg';
import { createClient } from 'redis';
import { AllocationSampler } from './allocationSampler';
import { buildBenchRouter, createContext, newCounters, openGate } from './app';
import { connectEcho, startEchoService } from './ioEcho';
import { nodeRedisAsIoredis } from './nodeRedisShim';
import { ORDERS_TABLE } from './postgresSetup';
import type { ServerConfig, ServerReply, ServerRequest } from './serverMessages';

const config = JSON.parse(process.env.BENCH_SERVER_CONFIG ?? '{}') as ServerConfig;
const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 1 });
// The same Redis again through a second client, for the store with coalesceWrites off: one write() per command.
const uncoalesced = new Redis(config.redisUrl, { maxRetriesPerRequest: 1 });
const nodeRedis = await createClient({ url: config.redisUrl }).connect();
const cluster = config.clusterNodes
  ? new Cluster(config.clusterNodes, { redisOptions: { maxRetriesPerRequest: 1 } })
  : undefined;
// The I/O service of the `*-io` scenarios; this process owns it, so it goes when the server goes.
const echoService = await startEchoService();
const echo = await connectEcho(echoService.port);
const counters = newCounters();
const allocations = new AllocationSampler();
let requests = 0;
let pgRoundTrips = 0;
// Enough connections that no request waits for one: a transactional handler holds one while it runs.
const pool = config.postgresUrl ? new pg.Pool({ connectionString: config.postgresUrl, max: 100 }) : undefined;
// Counts every query the pool's clients send; node-postgres sends one at a time, so each is a round trip.
pool?.on('connect', (client) => {
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args) => {
    pgRoundTrips++;
    return query(...args);
  };
});

const router = buildBenchRouter(
  {
    memory: new MemoryStore(),
    redis: new RedisStore({ redis, prefix: 'bench:' }),
    redisUncoalesced: new RedisStore({ redis: uncoalesced, prefix: 'bench:', coalesceWrites: false }),
    redisNodeRedis: new RedisStore({ redis: nodeRedisAsIoredis(nodeRedis), prefix: 'bench:' }),
    cluster: cluster ? new RedisStore({ redis: cluster, prefix: 'bench:' }) : undefined,
    postgres: pool && { store: new PostgresStore({ pool }), pool, ordersTable: ORDERS_TABLE },
  },
  counters,
  echo.roundTrip,
);
const server = createHTTPServer({ router, createContext });
server.on('request', () => {
  requests++;
});

// Garbage collection time by kind, for bench:alloc (entries arrive a little after each collection).
let gcMinorUs = 0;
let gcOtherUs = 0;
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    const kind = (entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind;
    if (kind === perfConstants.NODE_PERFORMANCE_GC_MINOR) gcMinorUs += entry.duration * 1000;
    else gcOtherUs += entry.duration * 1000;
  }
}).observe({ entryTypes: ['gc'] });

function cpuUs(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

function send(message: ServerReply): void {
  process.send?.(message);
}

process.on('message', (message: ServerRequest) => {
  switch (message.type) {
    case 'stats':
      send({
        type: 'stats',
        runs: counters.runs,
        requests,
        waiting: counters.gate.waiting,
        cpuUs: cpuUs(),
        pgRoundTrips,
        gcMinorUs,
        gcOtherUs,
      });
      break;
    case 'openGate':
      openGate(counters);
      send({ type: 'gateOpened' });
      break;
    case 'startAllocationSampling':
      void allocations.start().then(() => send({ type: 'allocationSamplingStarted' }));
      break;
    case 'stopAllocationSampling':
      void allocations.stop().then((sample) => send({ type: 'allocationSample', sample }));
      break;
    case 'exit':
      server.closeAllConnections?.();
      server.close();
      redis.disconnect();
      uncoalesced.disconnect();
      void nodeRedis.disconnect();
      cluster?.disconnect();
      void pool?.end();
      echo.close();
      echoService.stop();
      // A clean exit, so that --cpu-prof writes its profile.
      setImmediate(() => process.exit(0));
      break;
  }
});
process.on('disconnect', () => process.exit(0));

async function ready(client: Redis | Cluster): Promise<void> {
  if (client.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    client.once('ready', resolve);
    client.once('error', reject);
  });
}

await Promise.all([ready(redis), ready(uncoalesced), cluster ? ready(cluster) : Promise.resolve()]);
server.listen(0, '127.0.0.1', () => {
  send({ type: 'ready', port: (server.address() as AddressInfo).port });
});
