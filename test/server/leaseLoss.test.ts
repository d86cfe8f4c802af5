import { randomUUID } from 'node:crypto';
import { type IdempotencyStore, MemoryStore, RedisStore, StoreUnavailableError } from '@trpc-idempotency/server';
import { Cluster, Redis } from 'ioredis';
import { describe, expect, inject, it } from 'vitest';
import { postMutation, startTestApp, type TestApp } from '../support/app.js';
import { newKey } from '../support/backends.js';
import { startTcpProxy, type TcpProxy } from '../support/tcpProxy.js';

const LEASE_MS = 600;
const STORE_TIMEOUT_MS = 200;
const HANDLER_MS = 1500;

/** Two stores on one set of records: the first holder's can be cut off from it, the second's cannot. */
interface SplitStore {
  holder: IdempotencyStore;
  other: IdempotencyStore;
  cutOff(): void;
  reconnect(): void;
  close(): Promise<void>;
}

async function ready(redis: Redis | Cluster): Promise<void> {
  if (redis.status !== 'ready') await new Promise((resolve) => redis.once('ready', resolve));
}

async function redisSplit(): Promise<SplitStore> {
  const url = new URL(inject('redisUrl'));
  const proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port) });
  const prefix = `lease-${randomUUID().slice(0, 8)}:`;
  const cut = new Redis({ host: proxy.host, port: proxy.port, maxRetriesPerRequest: 1 });
  const direct = new Redis(url.toString(), { maxRetriesPerRequest: 1 });
  await Promise.all([ready(cut), ready(direct)]);
  return {
    holder: new RedisStore({ redis: cut, prefix, timeoutMs: STORE_TIMEOUT_MS }),
    other: new RedisStore({ redis: direct, prefix, timeoutMs: STORE_TIMEOUT_MS }),
    cutOff: () => proxy.pause(),
    reconnect: () => proxy.resume(),
    close: async () => {
      cut.disconnect();
      direct.disconnect();
      await proxy.close();
    },
  };
}

async function clusterSplit(): Promise<SplitStore> {
  const nodes = inject('redisCluster')!;
  // Every node the cluster names is reached through its own proxy (ioredis natMap), so the whole
  // cluster goes silent for the holder while it keeps answering the other server.
  const proxies: TcpProxy[] = await Promise.all(nodes.map((node) => startTcpProxy(node)));
  const natMap = Object.fromEntries(
    nodes.map((node, i) => [`${node.host}:${node.port}`, { host: proxies[i]!.host, port: proxies[i]!.port }]),
  );
  const prefix = `lease-${randomUUID().slice(0, 8)}:`;
  const cut = new Cluster(
    proxies.map((proxy) => ({ host: proxy.host, port: proxy.port })),
    { natMap, redisOptions: { maxRetriesPerRequest: 1 } },
  );
  const direct = new Cluster(nodes, { redisOptions: { maxRetriesPerRequest: 1 } });
  await Promise.all([ready(cut), ready(direct)]);
  return {
    holder: new RedisStore({ redis: cut, prefix, timeoutMs: STORE_TIMEOUT_MS }),
    other: new RedisStore({ redis: direct, prefix, timeoutMs: STORE_TIMEOUT_MS }),
    cutOff: () => {
      for (const proxy of proxies) proxy.pause();
    },
    reconnect: () => {
      for (const proxy of proxies) proxy.resume();
    },
    close: async () => {
      cut.disconnect();
      direct.disconnect();
      await Promise.all(proxies.map((proxy) => proxy.close()));
    },
  };
}

/**
 * MemoryStore lives in the process, so no network can cut a holder off from it. This fake is the one
 * stand-in: the holder's view of the store stops answering and times out, as a store client does,
 * while the other server's keeps working.
 */
async function memorySplit(): Promise<SplitStore> {
  const store = new MemoryStore();
  let silent = false;
  const unanswered = async (): Promise<never> => {
    await sleep(STORE_TIMEOUT_MS);
    throw new StoreUnavailableError('no answer');
  };
  const holder: IdempotencyStore = {
    claim: (request) => (silent ? unanswered() : store.claim(request)),
    complete: (request) => (silent ? unanswered() : store.complete(request)),
    release: (request) => (silent ? unanswered() : store.release(request)),
    renewLease: (request) => (silent ? unanswered() : store.renewLease(request)),
  };
  return {
    holder,
    other: store,
    cutOff: () => {
      silent = true;
    },
    reconnect: () => {
      silent = false;
    },
    close: async () => store.close(),
  };
}

const splits = [
  { name: 'MemoryStore', open: memorySplit },
  { name: 'Redis single node', open: redisSplit },
  ...(inject('redisCluster') ? [{ name: 'Redis Cluster', open: clusterSplit }] : []),
];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// docs/protocol.md §2: a holder learns of a lost lease before anyone else can take over.
describe.each(splits)('a holder cut off from the store, on $name', ({ open }) => {
  it('aborts its signal before a second holder’s handler starts', { timeout: 30_000 }, async () => {
    const split = await open();
    const options = { leaseMs: LEASE_MS, retentionMs: 60_000 };
    const first: TestApp = await startTestApp({ ...options, store: split.holder });
    const second: TestApp = await startTestApp({ ...options, store: split.other });
    try {
      const key = newKey();
      const input = { item: 'slow', sleepMs: HANDLER_MS };
      const headers = { 'x-user': 'ann', 'idempotency-key': key };
      const firstCall = postMutation(first.url, 'orders.create', input, headers);
      while (!first.effects.starts.has(key)) await sleep(5);
      split.cutOff();

      // The retry goes to another server, as a load balancer would send it, until it takes over.
      let taken = await postMutation(second.url, 'orders.create', input, headers);
      while (taken.status === 409) {
        await sleep(20);
        taken = await postMutation(second.url, 'orders.create', input, headers);
      }
      expect(taken.status).toBe(200);
      expect(taken.data.fence).toBe(2);

      const abortedAt = first.effects.aborts.get(key)?.[0];
      const takenOverAt = second.effects.starts.get(key)?.[0];
      expect(abortedAt).toBeDefined();
      expect(takenOverAt).toBeDefined();
      expect(abortedAt!).toBeLessThan(takenOverAt!);
      expect(first.effects.fences.get(key)).toEqual([1]);
      expect(second.effects.fences.get(key)).toEqual([2]);

      split.reconnect();
      // The first holder still answers its own caller; its late completion is refused by the token check.
      expect((await firstCall).status).toBe(200);
      await expect
        .poll(() => first.effects.events.some((event) => event.key === key && event.type === 'leaseLost'))
        .toBe(true);
      const replay = await postMutation(second.url, 'orders.create', input, headers);
      expect(replay.data.fence).toBe(2);
    } finally {
      split.reconnect();
      await first.close();
      await second.close();
      await split.close();
    }
  });
});
