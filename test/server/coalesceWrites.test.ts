import { randomUUID } from 'node:crypto';
import { RedisStore } from '@trpc-idempotency/server';
import type { Cluster, Redis } from 'ioredis';
import { describe, expect, inject, it } from 'vitest';
import { connectCluster, connectRedis } from '../support/backends.js';

type Counted = { writes: number };

type SocketWrite = (...args: unknown[]) => unknown;

/** Counts the system-call-level writes of a socket: `_write` for one chunk, `_writev` for a corked batch. */
function countWrites(stream: { _write: SocketWrite; _writev?: SocketWrite }, counted: Counted): void {
  const write = stream._write.bind(stream);
  stream._write = (...args: unknown[]) => {
    counted.writes++;
    return write(...args);
  };
  if (stream._writev) {
    const writev = stream._writev.bind(stream);
    stream._writev = (...args: unknown[]) => {
      counted.writes++;
      return writev(...args);
    };
  }
}

async function ready(redis: Redis | Cluster): Promise<void> {
  if (redis.status !== 'ready') await new Promise((resolve) => redis.once('ready', resolve));
}

/** Sends 40 claims in one turn while one is already in flight, and answers how many socket writes they took. */
async function burst(redis: Redis | Cluster, coalesceWrites: boolean) {
  await ready(redis);
  const store = new RedisStore({ redis, prefix: `coalesce-${randomUUID().slice(0, 8)}:`, coalesceWrites });
  const claim = () =>
    store.claim({
      recordKey: `{${randomUUID()}}`,
      fingerprint: 'f',
      token: randomUUID(),
      leaseMs: 1000,
      retentionMs: 10_000,
    });
  // Load the script on every connection first, so the counts hold EVALSHA only.
  await Promise.all(Array.from({ length: 20 }, claim));
  const streams =
    'nodes' in redis && typeof redis.nodes === 'function'
      ? redis.nodes('master').map((n) => n.stream)
      : [(redis as Redis).stream];
  const counted: Counted = { writes: 0 };
  for (const stream of streams) countWrites(stream as never, counted);
  const first = claim();
  const rest = Array.from({ length: 40 }, claim);
  const answers = await Promise.all([first, ...rest]);
  return { writes: counted.writes, claimed: answers.filter((answer) => answer.status === 'claimed').length };
}

describe('RedisStore coalesceWrites', () => {
  it('writes the commands of one turn together once one is in flight, and answers each of them', async () => {
    const redis = connectRedis();
    try {
      const { writes, claimed } = await burst(redis, true);
      expect(claimed).toBe(41);
      // The first claim goes out at once; the other 40 of the same turn leave in one writev.
      expect(writes).toBe(2);
    } finally {
      redis.disconnect();
    }
  });

  it('writes each command by itself when it is off', async () => {
    const redis = connectRedis();
    try {
      const { writes, claimed } = await burst(redis, false);
      expect(claimed).toBe(41);
      expect(writes).toBe(41);
    } finally {
      redis.disconnect();
    }
  });

  it.runIf(inject('redisCluster'))('holds every Cluster master the same way', async () => {
    const cluster = connectCluster();
    try {
      const { writes, claimed } = await burst(cluster, true);
      expect(claimed).toBe(41);
      // The first claim on one node, then at most one write per master for the rest.
      expect(writes).toBeLessThanOrEqual(1 + cluster.nodes('master').length);
    } finally {
      cluster.disconnect();
    }
  });
});
