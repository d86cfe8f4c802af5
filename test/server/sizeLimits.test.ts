import type { CompleteRequest, IdempotencyStore } from '@trpc-idempotency/server';
import type { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postMutation, startTestApp, type TestApp } from '../support/app.js';
import { type Backend, backends, newKey, type OpenBackend } from '../support/backends.js';

const MiB = 1024 * 1024;
const user = 'size-user';

/**
 * What reached the store: every outcome `complete` was given and every record a claim named. A view of
 * the real store's calls (the store itself still does the work), so a MemoryStore can be checked too.
 */
function watchStore(store: IdempotencyStore) {
  const completed: number[] = [];
  const claimed: string[] = [];
  const watched: IdempotencyStore = {
    kind: store.kind,
    claim: (request) => {
      claimed.push(request.recordKey);
      return store.claim(request);
    },
    complete: (request: CompleteRequest) => {
      completed.push(Buffer.byteLength(request.outcome));
      return store.complete(request);
    },
    release: (request) => store.release(request),
    renewLease: (request) => store.renewLease(request),
  };
  return { watched, completed, claimed };
}

/** The records under the backend's prefix in Redis, with their memory use and the length of their stored outcome. */
async function redisRecords(redis: Redis | Cluster, prefix: string) {
  const nodes = 'nodes' in redis && typeof redis.nodes === 'function' ? redis.nodes('master') : [redis as Redis];
  const keys = (await Promise.all(nodes.map((node) => node.keys(`${prefix}*`)))).flat();
  return Promise.all(
    keys.map(async (key) => ({
      memoryBytes: Number(await redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0')),
      outcome: (await redis.hget(key, 'o')) ?? '',
    })),
  );
}

describe.each(backends().filter((b: Backend) => b.name !== 'Redis Cluster'))('size limits on $name', (backend) => {
  let open: OpenBackend;
  let app: TestApp;
  let watch: ReturnType<typeof watchStore>;

  beforeAll(async () => {
    open = await backend.create();
    watch = watchStore(open.store);
    app = await startTestApp({ store: watch.watched, compressOutcomes: { aboveBytes: 64 * 1024 } });
  });
  afterAll(async () => {
    await app?.close();
    await open?.close();
  });

  it('answers a 2 MiB outcome with 500 OUTCOME_TOO_LARGE, stores only that small error, and replays it without running again', async () => {
    const key = newKey('big-outcome');
    const headers = { 'idempotency-key': key, 'x-user': user };
    const before = watch.completed.length;
    const first = await postMutation(app.url, 'orders.report', { bytes: 2 * MiB }, headers);
    expect(first.status).toBe(500);
    expect(first.error?.data.idempotency).toEqual({ code: 'OUTCOME_TOO_LARGE' });
    expect(first.error?.message).toMatch(/larger than the 1048576 bytes/);

    const again = await postMutation(app.url, 'orders.report', { bytes: 2 * MiB }, headers);
    expect(again.status).toBe(500);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.error?.data.idempotency).toEqual({ code: 'OUTCOME_TOO_LARGE' });
    expect(app.runsOf(user, key)).toBe(1);

    // Nothing above the limit reached the store: one small completion, and a small record.
    const sizes = watch.completed.slice(before);
    expect(sizes).toHaveLength(1);
    expect(sizes[0]).toBeLessThan(1024);
    if (open.redis) {
      const records = await redisRecords(open.redis, open.prefix);
      expect(records.length).toBeGreaterThan(0);
      for (const record of records) expect(record.memoryBytes).toBeLessThan(4096);
    }
    expect(app.effects.events.filter((e) => e.type === 'outcomeTooLarge' && e.key === key)).toEqual([
      expect.objectContaining({ bytes: expect.any(Number), fence: 1 }),
    ]);
  });

  it('refuses a 2 MiB input with 413 INPUT_TOO_LARGE before the claim: no handler run, no record', async () => {
    const key = newKey('big-input');
    const claimsBefore = watch.claimed.length;
    const answer = await postMutation(
      app.url,
      'orders.create',
      { item: 'y'.repeat(2 * MiB) },
      { 'idempotency-key': key, 'x-user': user },
    );
    expect(answer.status).toBe(413);
    expect(answer.error?.data).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', idempotency: { code: 'INPUT_TOO_LARGE' } });
    expect(answer.error?.message).toMatch(/at most 1048576/);
    expect(app.runsOf(user, key)).toBe(0);
    expect(watch.claimed.length).toBe(claimsBefore);

    // The same key with a small input is still unused: it runs once.
    const small = await postMutation(
      app.url,
      'orders.create',
      { item: 'pen' },
      { 'idempotency-key': key, 'x-user': user },
    );
    expect(small.status).toBe(200);
    expect(app.runsOf(user, key)).toBe(1);
  });

  it('stores an outcome above the compression threshold compressed, and replays it whole', async () => {
    const key = newKey('compressed');
    const headers = { 'idempotency-key': key, 'x-user': user };
    const before = watch.completed.length;
    const first = await postMutation(app.url, 'orders.report', { bytes: 512 * 1024 }, headers);
    const again = await postMutation(app.url, 'orders.report', { bytes: 512 * 1024 }, headers);
    expect(first.status).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.data).toEqual(first.data);
    expect(again.data.text).toHaveLength(512 * 1024);
    const [stored] = watch.completed.slice(before);
    expect(stored).toBeLessThan(16 * 1024);
    if (open.redis) {
      const records = await redisRecords(open.redis, open.prefix);
      expect(records.some((record) => record.outcome.startsWith('br:'))).toBe(true);
    }
  });
});

describe("onOutcomeTooLarge: 'release'", () => {
  it('answers the caller with its result, stores nothing, and lets a retry run the handler again', async () => {
    const open = await backends()[0]!.create();
    const watch = watchStore(open.store);
    const app = await startTestApp({ store: watch.watched, maxOutcomeBytes: 4096, onOutcomeTooLarge: 'release' });
    try {
      const key = newKey('released');
      const headers = { 'idempotency-key': key, 'x-user': user };
      const first = await postMutation(app.url, 'orders.report', { bytes: 8192 }, headers);
      expect(first.status).toBe(200);
      expect(first.data.text).toHaveLength(8192);
      expect(watch.completed).toEqual([]);
      expect((await postMutation(app.url, 'orders.report', { bytes: 8192 }, headers)).status).toBe(200);
      expect(app.runsOf(user, key)).toBe(2);
      // The key stays bound to its input: another input is still a mismatch.
      expect((await postMutation(app.url, 'orders.report', { bytes: 10 }, headers)).status).toBe(422);
    } finally {
      await app.close();
      await open.close();
    }
  });
});
