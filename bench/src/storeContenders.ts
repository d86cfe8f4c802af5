import { randomUUID } from 'node:crypto';
import { IdempotencyConfig } from '@aws-lambda-powertools/idempotency';
import { CachePersistenceLayer } from '@aws-lambda-powertools/idempotency/cache';
import { Idempotency } from '@node-idempotency/core';
import { RedisStorageAdapter } from '@node-idempotency/storage-adapter-redis';
import { createClient } from '@redis/client';
import { RedisStore } from '@trpc-idempotency/server';
import { Redis } from 'ioredis';
import { createClient as createNodeRedisClient } from 'redis';
import superjson from 'superjson';
import { fingerprintInput, recordKeyFor } from '../../packages/server/src/hashing';
import { CLAIM_SCRIPT, COMPLETE_SCRIPT } from '../../packages/server/src/store/redisScripts';
import { ORDER_INPUT } from './load';
import { nodeRedisAsIoredis } from './nodeRedisShim';

/** The outcome every store keeps: the bench handler's answer, serialized with superjson. */
export const STORED_PAYLOAD = superjson.serialize({
  orderId: 1,
  item: ORDER_INPUT.item,
  qty: ORDER_INPUT.qty,
  totalCents: ORDER_INPUT.qty * 1999,
  createdAt: new Date(Date.UTC(2026, 0, 2, 3, 4, 5)),
});

/** A store opened on one Redis, able to run one claim-plus-complete cycle for a fresh key. */
export interface OpenContender {
  cycle(key: string): Promise<void>;
  close(): Promise<void>;
}

/** A store under comparison. */
export interface Contender {
  name: string;
  /** `ours`, a `peer` library, or a `reference` row that sends our scripts with no SDK code, to split the costs. */
  kind: 'ours' | 'peer' | 'reference';
  /** What its cycle does, in Redis terms, and what it guarantees. */
  does: string;
  /** Opens the store; ours can be handed a client to run on instead of a fresh ioredis one. */
  open(redisUrl: string, client?: Redis): Promise<OpenContender>;
}

const LEASE_MS = 30_000;
const RETENTION_MS = 24 * 60 * 60 * 1000;

/**
 * Ours (with its default `coalesceWrites`, or with it off: one write() per command), doing what the
 * middleware does around the store, with the middleware's own functions: name the record by hashing
 * (namespace, scope, path, key), fingerprint the input, claim with a lease token, complete with the
 * serialized outcome.
 */
function ours(coalesceWrites: boolean): Contender {
  return {
    name: coalesceWrites ? 'trpc-idempotency RedisStore' : 'trpc-idempotency RedisStore, coalesceWrites: false',
    kind: 'ours',
    does: 'claim script (HMGET, TIME, HSET, PEXPIRE) + complete script (HMGET, HSET, HDEL, PEXPIRE, PUBLISH)',
    async open(redisUrl, client) {
      const redis = client ?? new Redis(redisUrl, { maxRetriesPerRequest: 1 });
      const store = new RedisStore({ redis, prefix: 'cmp:', coalesceWrites });
      const outcome = JSON.stringify({ ok: true, data: STORED_PAYLOAD, u: false });
      return {
        async cycle(key) {
          const recordKey = recordKeyFor('default', 'scope:bench-user', 'orders.create', key);
          const fingerprint = fingerprintInput(superjson, ORDER_INPUT);
          const token = randomUUID();
          const claim = await store.claim({
            recordKey,
            fingerprint,
            token,
            leaseMs: LEASE_MS,
            retentionMs: RETENTION_MS,
          });
          if (claim.status !== 'claimed') throw new Error(`claim answered ${claim.status}`);
          if (!(await store.complete({ recordKey, token, outcome, retentionMs: RETENTION_MS }))) {
            throw new Error('complete was refused');
          }
        },
        async close() {
          if (!client) redis.disconnect();
        },
      };
    },
  };
}

/** @node-idempotency/core over its node-redis adapter, through its request/response API. */
const nodeIdempotency: Contender = {
  name: '@node-idempotency/core + storage-adapter-redis',
  kind: 'peer',
  does: 'SET NX PX (in progress, body hash) + SET PX (response)',
  async open(redisUrl) {
    const storage = new RedisStorageAdapter({ url: redisUrl });
    await storage.connect();
    const idempotency = new Idempotency(storage, { cacheTTLMS: RETENTION_MS, enforceIdempotency: true });
    return {
      async cycle(key) {
        const request = {
          headers: { 'idempotency-key': key },
          path: '/orders.create',
          method: 'POST',
          body: ORDER_INPUT,
        };
        const cached = await idempotency.onRequest(request);
        if (cached !== undefined) throw new Error('a fresh key was answered from the cache');
        await idempotency.onResponse(request, { body: STORED_PAYLOAD });
      },
      close: () => storage.disconnect(),
    };
  },
};

/** @aws-lambda-powertools/idempotency's cache persistence layer over @redis/client. */
const powertools: Contender = {
  name: '@aws-lambda-powertools/idempotency (CachePersistenceLayer)',
  kind: 'peer',
  does: 'SET NX EX (in progress, payload hash) + SET EX (response)',
  async open(redisUrl) {
    const client = await createClient({ url: redisUrl }).connect();
    const persistence = new CachePersistenceLayer({ client });
    persistence.configure({
      config: new IdempotencyConfig({
        eventKeyJmesPath: 'key',
        payloadValidationJmesPath: 'input',
        expiresAfterSeconds: RETENTION_MS / 1000,
      }),
      functionName: 'bench',
    });
    return {
      async cycle(key) {
        const data = { key, input: ORDER_INPUT };
        // The remaining time plays the lease: the in-progress record blocks retries that long.
        await persistence.saveInProgress(data, LEASE_MS);
        await persistence.saveSuccess(data, STORED_PAYLOAD as unknown as Parameters<typeof persistence.saveSuccess>[1]);
      },
      async close() {
        client.destroy();
      },
    };
  },
};

/**
 * Our two scripts sent straight through a client, with no hashing, no timeout race and no SDK code:
 * what the Lua state machine costs on each client library, apart from everything else.
 */
export function rawScripts(library: 'ioredis' | 'node-redis'): Contender {
  return {
    name: `reference: our 2 scripts by EVALSHA on ${library}, no SDK code`,
    kind: 'reference',
    does: 'the same two scripts as RedisStore, fixed fingerprint, no hashing',
    async open(redisUrl) {
      const outcome = JSON.stringify({ ok: true, data: STORED_PAYLOAD, u: false });
      const ttl = [String(LEASE_MS), String(RETENTION_MS)];
      if (library === 'ioredis') {
        const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
        const [claimSha, completeSha] = (await Promise.all([
          redis.script('LOAD', CLAIM_SCRIPT),
          redis.script('LOAD', COMPLETE_SCRIPT),
        ])) as [string, string];
        return {
          async cycle(key) {
            const token = randomUUID();
            await redis.evalsha(claimSha, 1, `cmp:{${key}}`, 'fingerprint', token, ...ttl);
            await redis.evalsha(completeSha, 1, `cmp:{${key}}`, token, outcome, ttl[1]!);
          },
          async close() {
            redis.disconnect();
          },
        };
      }
      const client = await createNodeRedisClient({ url: redisUrl }).connect();
      const [claimSha, completeSha] = await Promise.all([
        client.scriptLoad(CLAIM_SCRIPT),
        client.scriptLoad(COMPLETE_SCRIPT),
      ]);
      return {
        async cycle(key) {
          const token = randomUUID();
          await client.evalSha(claimSha, { keys: [`cmp:{${key}}`], arguments: ['fingerprint', token, ...ttl] });
          await client.evalSha(completeSha, { keys: [`cmp:{${key}}`], arguments: [token, outcome, ttl[1]!] });
        },
        close: () => client.disconnect(),
      };
    },
  };
}

/** The unchanged RedisStore over a node-redis client, through a bench-only shim (nodeRedisShim.ts). */
const oursOverNodeRedis: Contender = {
  name: 'experiment: RedisStore over node-redis (bench shim)',
  kind: 'reference',
  does: 'the same as RedisStore; the client writes the commands of one tick in one syscall',
  async open(redisUrl) {
    const client = await createNodeRedisClient({ url: redisUrl }).connect();
    const inner = await ours(true).open(redisUrl, nodeRedisAsIoredis(client));
    return {
      cycle: inner.cycle,
      async close() {
        await inner.close();
        await client.disconnect();
      },
    };
  },
};

/** Every store in the comparison, ours first; the reference rows only in a full run. */
export function contenders(withReferences: boolean): Contender[] {
  const all = [ours(true), ours(false), nodeIdempotency, powertools];
  return withReferences ? [...all, rawScripts('ioredis'), rawScripts('node-redis'), oursOverNodeRedis] : all;
}
