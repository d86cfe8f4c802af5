import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { MemoryStore, StoreFullError } from '@trpc-idempotency/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postMutation, startTestApp, type TestApp } from '../support/app.js';
import { newKey } from '../support/backends.js';

// docs/protocol.md §3: a store that is full refuses new claims (503 STORE_FULL) and never forgets a live or
// completed record to make room.
describe('MemoryStore at its bound', () => {
  const maxBytes = 64 * 1024;
  let store: MemoryStore;
  let app: TestApp;
  beforeAll(async () => {
    store = new MemoryStore({ maxBytes });
    app = await startTestApp({ store });
  });
  afterAll(async () => {
    await app.close();
    store.close();
  });

  const send = (key: string, item: string) =>
    postMutation(app.url, 'orders.create', { item }, { 'x-user': 'ann', 'idempotency-key': key });

  it('answers new keys 503 STORE_FULL with a retry hint, and still replays every outcome it stored', async () => {
    const paid: Array<{ key: string; item: string; orderId: number }> = [];
    let refused: Awaited<ReturnType<typeof send>> | undefined;
    for (let i = 0; i < 2000 && !refused; i++) {
      const key = newKey();
      const answer = await send(key, `item-${i}`);
      if (answer.status === 200) paid.push({ key, item: `item-${i}`, orderId: answer.data.orderId });
      else refused = answer;
    }
    expect(refused, 'the store never filled up').toBeDefined();
    expect(refused!.status).toBe(503);
    expect(refused!.error?.data.idempotency).toEqual({ code: 'STORE_FULL', retryAfterMs: 1000 });
    expect(refused!.headers.get('retry-after')).toBe('1');
    expect(paid.length).toBeGreaterThan(20);
    const usage = store.usage();
    expect(usage.maxBytes).toBe(maxBytes);
    // One record's worth at most beyond the bound: the last claim admitted was below it.
    expect(usage.bytes).toBeLessThan(maxBytes + 2048);
    const runsBefore = app.effects.orders.length;

    // Nothing was evicted to make room: every intent paid before is replayed, and none runs again.
    for (const { key, item, orderId } of paid) {
      const replay = await send(key, item);
      expect(replay.status).toBe(200);
      expect(replay.headers.get('idempotent-replayed')).toBe('true');
      expect(replay.data.orderId).toBe(orderId);
    }
    expect(app.effects.orders.length).toBe(runsBefore);
    expect(app.effects.events.some((event) => event.type === 'storeFull')).toBe(true);
  });

  it('refuses even with onStoreError: fail-open: a full store is not an unreachable one', async () => {
    const full = new MemoryStore({ maxBytes: 1024 });
    const open = await startTestApp({ store: full, onStoreError: 'fail-open' });
    try {
      const answers = [];
      for (let i = 0; i < 10; i++) {
        answers.push(
          await postMutation(
            open.url,
            'orders.create',
            { item: 'x' },
            { 'x-user': 'ann', 'idempotency-key': newKey() },
          ),
        );
      }
      const refused = answers.filter((answer) => answer.status === 503);
      expect(refused.length).toBeGreaterThan(0);
      expect(refused.every((answer) => answer.error?.data.idempotency?.code === 'STORE_FULL')).toBe(true);
      // Only the admitted claims ran: a refused one never reached the handler unprotected.
      expect(open.effects.orders.length).toBe(answers.length - refused.length);
    } finally {
      await open.close();
      full.close();
    }
  });

  it('frees room when retention ends, and only then', async () => {
    let now = 0;
    const small = new MemoryStore({ maxBytes: 2048, now: () => now, sweepIntervalMs: 60_000 });
    try {
      const claim = (i: number) =>
        small.claim({ recordKey: `k${i}`, fingerprint: 'f', token: `t${i}`, leaseMs: 1000, retentionMs: 10_000 });
      let admitted = 0;
      while (admitted < 100) {
        try {
          await claim(admitted);
          admitted++;
        } catch (error) {
          expect(error).toBeInstanceOf(StoreFullError);
          break;
        }
      }
      expect(admitted).toBeGreaterThan(2);
      now = 9_999;
      await expect(claim(1000)).rejects.toBeInstanceOf(StoreFullError);
      // A held record is never refused its completion or renewal for lack of room.
      expect(
        await small.complete({ recordKey: 'k0', token: 't0', outcome: 'x'.repeat(500), retentionMs: 20_000 }),
      ).toBe(true);
      now = 10_001;
      await expect(claim(1001)).resolves.toMatchObject({ status: 'claimed' });
      expect(
        await small.claim({ recordKey: 'k0', fingerprint: 'f', token: 'again', leaseMs: 1000, retentionMs: 10_000 }),
      ).toEqual({
        status: 'completed',
        outcome: 'x'.repeat(500),
      });
    } finally {
      small.close();
    }
  });

  it('keeps the heap under its bound: the records of a store filled to 16 MiB take at most that', async () => {
    const script = fileURLToPath(new URL('../support/memoryBoundProcess.ts', import.meta.url));
    const bound = 16 * 1024 * 1024;
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--expose-gc', '--import', 'tsx', script, String(bound)],
      {
        cwd: fileURLToPath(new URL('../..', import.meta.url)),
      },
    );
    console.log(`MemoryStore filled to its bound: ${stdout.trim()}`);
    const filled = JSON.parse(stdout) as { refusedAfter: number; records: number; bytes: number; heapBytes: number };
    expect(filled.refusedAfter).toBeGreaterThan(10_000);
    expect(filled.records).toBe(filled.refusedAfter);
    expect(filled.heapBytes).toBeLessThanOrEqual(bound);
    // The count is not far below the heap either: the bound is not met by counting records as larger than they are.
    expect(filled.heapBytes).toBeGreaterThan(bound * 0.6);
  }, 120_000);
});
