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

/**
 * The plain-hop handler's wait: one EVALSHA with the arguments of a claim (a prefixed record key, a
 * SHA-256 fingerprint, a token, a lease and a retention) to a script that only returns, so it stores
 * nothing. The asynchronous hop the SDK takes, without the SDK.
 */
function claimSizedHop(client: Redis): () => Promise<unknown> {
  client.defineCommand('benchHop', { numberOfKeys: 1, lua: 'return 1' });
  const call = (client as unknown as { benchHop: (...args: Array<string | number>) => Promise<unknown> }).benchHop.bind(
    client,
  );
  const fingerprint = 'f'.repeat(64);
  let n = 0;
  return () =>
    call(
      `bench:hop:bench-user:plainHop:${(n++).toString(36).padStart(43, '0')}`,
      fingerprint,
      `${n}`.padStart(36, '0'),
      30_000,
      86_400_000,
    );
}

const config = JSON.parse(process.env.BENCH_SERVER_CONFIG ?? '{}') as ServerConfig;
/** Whether this process serves any of these procedures (a process without `procedures` serves them all). */
const serves = (...paths: string[]) => !config.procedures || paths.some((path) => config.procedures!.includes(path));
const redis = serves('redis', 'conflict', 'redisIo', 'plainHop')
  ? new Redis(config.redisUrl, { maxRetriesPerRequest: 1 })
  : undefined;
// The same Redis again through a second client, for the store with coalesceWrites off: one write() per command.
const uncoalesced = serves('redisUncoalesced') ? new Redis(config.redisUrl, { maxRetriesPerRequest: 1 }) : undefined;
const nodeRedis = serves('redisNodeRedis') ? await createClient({ url: config.redisUrl }).connect() : undefined;
const cluster =
  config.clusterNodes && serves('cluster')
    ? new Cluster(config.clusterNodes, { redisOptions: { maxRetriesPerRequest: 1 } })
    : undefined;
// The I/O service of the `*-io` scenarios; this process owns it, so it goes when the server goes.
const echoService = serves('plainIo', 'memoryIo', 'redisIo') ? await startEchoService() : undefined;
const echo = echoService ? await connectEcho(echoService.port) : undefined;
const counters = newCounters();
const allocations = new AllocationSampler();
let requests = 0;
let pgRoundTrips = 0;
// Enough connections that no request waits for one: a transactional handler holds one while it runs.
const pool =
  config.postgresUrl && serves('pgPlainWrite', 'pg', 'pgTx')
    ? new pg.Pool({ connectionString: config.postgresUrl, max: 100 })
    : undefined;
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
    memory: serves('memory', 'memoryIo') ? new MemoryStore() : undefined,
    redis: redis && new RedisStore({ redis, prefix: 'bench:' }),
    redisUncoalesced: uncoalesced && new RedisStore({ redis: uncoalesced, prefix: 'bench:', coalesceWrites: false }),
    redisNodeRedis: nodeRedis && new RedisStore({ redis: nodeRedisAsIoredis(nodeRedis), prefix: 'bench:' }),
    cluster: cluster ? new RedisStore({ redis: cluster, prefix: 'bench:' }) : undefined,
    postgres: pool && { store: new PostgresStore({ pool }), pool, ordersTable: ORDERS_TABLE },
    io: echo?.roundTrip,
    hop: redis && claimSizedHop(redis),
  },
  counters,
  config.procedures,
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
      redis?.disconnect();
      uncoalesced?.disconnect();
      void nodeRedis?.disconnect();
      cluster?.disconnect();
      void pool?.end();
      echo?.close();
      echoService?.stop();
      // A clean exit, so that --cpu-prof writes its profile.
      setImmediate(() => process.exit(0));
      break;
  }
});
process.on('disconnect', () => process.exit(0));

async function ready(client: Redis | Cluster | undefined): Promise<void> {
  if (!client || client.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    client.once('ready', resolve);
    client.once('error', reject);
  });
}

await Promise.all([ready(redis), ready(uncoalesced), ready(cluster)]);
server.listen(0, '127.0.0.1', () => {
  send({ type: 'ready', port: (server.address() as AddressInfo).port });
});
