import type { IdempotencyStore } from '@trpc-idempotency/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends, newKey, type OpenBackend } from '../support/backends.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.each(backends())('the store contract on $name', (backend) => {
  let open: OpenBackend;
  beforeAll(async () => {
    open = await backend.create();
  });
  afterAll(async () => {
    await open.close();
  });

  it('claims once, fences every takeover, refuses a stale holder and keeps the fence across a release', async () => {
    const { store } = open;
    const recordKey = `{${newKey()}}`;
    const base = { recordKey, fingerprint: 'f', leaseMs: 100, retentionMs: 60_000 };
    expect(await store.claim({ ...base, token: 'a' })).toEqual({ status: 'claimed', fence: 1 });
    const busy = await store.claim({ ...base, token: 'b' });
    expect(busy.status).toBe('in_progress');
    expect(busy).toMatchObject({ status: 'in_progress' });
    if (busy.status === 'in_progress') {
      expect(busy.leaseRemainingMs).toBeGreaterThan(0);
      expect(busy.leaseRemainingMs).toBeLessThanOrEqual(100);
      expect(busy.heldForMs).toBeGreaterThanOrEqual(0);
    }

    await sleep(150);
    expect(await store.claim({ ...base, token: 'b' })).toEqual({ status: 'claimed', fence: 2 });
    expect(await store.complete({ recordKey, token: 'a', outcome: 'stale', retentionMs: 60_000 })).toBe(false);
    expect(await store.renewLease({ recordKey, token: 'a', leaseMs: 100, retentionMs: 60_000 })).toBe(false);
    expect(await store.release({ recordKey, token: 'a', handlerBegan: true })).toBe(false);

    expect(await store.release({ recordKey, token: 'b', handlerBegan: true })).toBe(true);
    expect(await store.claim({ ...base, token: 'c' })).toEqual({ status: 'claimed', fence: 3 });
    expect(await store.claim({ ...base, fingerprint: 'other', token: 'd' })).toEqual({ status: 'mismatch' });
    expect(await store.complete({ recordKey, token: 'c', outcome: 'done', retentionMs: 60_000 })).toBe(true);
    expect(await store.claim({ ...base, token: 'e' })).toEqual({ status: 'completed', outcome: 'done' });
    expect(await store.claim({ ...base, fingerprint: 'other', token: 'e' })).toEqual({ status: 'mismatch' });
  });

  it('gives the same answer when a call is run twice with the same token, as after a resend', async () => {
    const { store } = open;
    const recordKey = `{${newKey()}}`;
    const base = { recordKey, fingerprint: 'f', token: 'a', leaseMs: 1000, retentionMs: 60_000 };
    expect(await store.claim(base)).toEqual({ status: 'claimed', fence: 1 });
    expect(await store.claim(base)).toEqual({ status: 'claimed', fence: 1 });
    expect(await store.renewLease({ recordKey, token: 'a', leaseMs: 1000, retentionMs: 60_000 })).toBe(true);
    expect(await store.complete({ recordKey, token: 'a', outcome: 'x', retentionMs: 60_000 })).toBe(true);
    expect(await store.complete({ recordKey, token: 'a', outcome: 'x', retentionMs: 60_000 })).toBe(true);
    expect(await store.renewLease({ recordKey, token: 'a', leaseMs: 1000, retentionMs: 60_000 })).toBe(false);

    const released = `{${newKey()}}`;
    await store.claim({ ...base, recordKey: released });
    expect(await store.release({ recordKey: released, token: 'a', handlerBegan: false })).toBe(true);
    expect(await store.release({ recordKey: released, token: 'a', handlerBegan: false })).toBe(true);
  });

  it('renews a live lease so that no one takes it over', async () => {
    const { store } = open;
    const recordKey = `{${newKey()}}`;
    const base = { recordKey, fingerprint: 'f', leaseMs: 200, retentionMs: 60_000 };
    await store.claim({ ...base, token: 'a' });
    for (let i = 0; i < 4; i++) {
      await sleep(100);
      expect(await store.renewLease({ recordKey, token: 'a', leaseMs: 200, retentionMs: 60_000 })).toBe(true);
    }
    expect((await store.claim({ ...base, token: 'b' })).status).toBe('in_progress');
  });

  it('tells how long the live lease has left and how long it has been held', async () => {
    const { store } = open;
    const recordKey = `{${newKey()}}`;
    const base = { recordKey, fingerprint: 'f', leaseMs: 5000, retentionMs: 60_000 };
    await store.claim({ ...base, token: 'a' });
    await sleep(120);
    const busy = await store.claim({ ...base, token: 'b' });
    if (busy.status !== 'in_progress') throw new Error(`expected in_progress, got ${busy.status}`);
    expect(busy.heldForMs).toBeGreaterThanOrEqual(100);
    expect(busy.heldForMs).toBeLessThan(5000);
    expect(busy.leaseRemainingMs).toBeLessThanOrEqual(5000 - 100);
  });

  it('leaves the key unbound when the first holder released it before its handler began', async () => {
    const { store } = open;
    const recordKey = `{${newKey()}}`;
    const base = { recordKey, leaseMs: 5000, retentionMs: 60_000 };
    expect(await store.claim({ ...base, fingerprint: 'bad', token: 'a' })).toEqual({ status: 'claimed', fence: 1 });
    expect(await store.release({ recordKey, token: 'a', handlerBegan: false })).toBe(true);
    // Another input may now use the key; the fence still grows.
    expect(await store.claim({ ...base, fingerprint: 'good', token: 'b' })).toEqual({ status: 'claimed', fence: 2 });
    expect(await store.release({ recordKey, token: 'b', handlerBegan: false })).toBe(true);
    expect(await store.claim({ ...base, fingerprint: 'good', token: 'c' })).toEqual({ status: 'claimed', fence: 3 });
    // Once a handler began with an input, the key is bound to it.
    expect(await store.release({ recordKey, token: 'c', handlerBegan: true })).toBe(true);
    expect(await store.claim({ ...base, fingerprint: 'bad', token: 'd' })).toEqual({ status: 'mismatch' });
    expect(await store.claim({ ...base, fingerprint: 'good', token: 'd' })).toEqual({ status: 'claimed', fence: 4 });
    // Binding survives a later holder that did not begin.
    expect(await store.release({ recordKey, token: 'd', handlerBegan: false })).toBe(true);
    expect(await store.claim({ ...base, fingerprint: 'bad', token: 'e' })).toEqual({ status: 'mismatch' });
  });

  it('binds the key when it takes over a lease that ran out, since that holder may have run', async () => {
    const { store } = open;
    const recordKey = `{${newKey()}}`;
    const base = { recordKey, fingerprint: 'f', leaseMs: 60, retentionMs: 60_000 };
    await store.claim({ ...base, token: 'a' });
    await sleep(100);
    expect(await store.claim({ ...base, token: 'b' })).toEqual({ status: 'claimed', fence: 2 });
    expect(await store.release({ recordKey, token: 'b', handlerBegan: false })).toBe(true);
    expect(await store.claim({ ...base, fingerprint: 'other', token: 'c' })).toEqual({ status: 'mismatch' });
  });

  it('keeps a renewed record past its retention, so the fence never goes back', async () => {
    const { store } = open;
    const recordKey = `{${newKey()}}`;
    const base = { recordKey, fingerprint: 'f', leaseMs: 100, retentionMs: 250 };
    await store.claim({ ...base, token: 'a' });
    for (let i = 0; i < 8; i++) {
      await sleep(60);
      expect(await store.renewLease({ recordKey, token: 'a', leaseMs: 100, retentionMs: 250 })).toBe(true);
    }
    // 480 ms after the claim, past its 250 ms retention: the record is still there.
    expect(await store.release({ recordKey, token: 'a', handlerBegan: true })).toBe(true);
    expect(await store.claim({ ...base, token: 'b' })).toEqual({ status: 'claimed', fence: 2 });
  });

  /** The stores that, as documented, have no push across processes: their waiters read again on a timer. */
  const POLLING_STORES = ['MariaDB', 'SQLite'];

  /** The store's watch, or undefined (checked to be a documented polling store) to end the test. */
  function watchOf(store: IdempotencyStore) {
    if (!store.watch) expect(POLLING_STORES).toContain(backend.name);
    else expect(POLLING_STORES).not.toContain(backend.name);
    return store.watch?.bind(store);
  }

  it.each([
    [
      'completes',
      (store: IdempotencyStore, recordKey: string) =>
        store.complete({ recordKey, token: 'a', outcome: 'done', retentionMs: 60_000 }),
    ],
    [
      'releases',
      (store: IdempotencyStore, recordKey: string) => store.release({ recordKey, token: 'a', handlerBegan: true }),
    ],
  ] as const)(
    'wakes a watch of a record when its holder %s, and keeps a change that came between waits',
    async (_, settle) => {
      const { store } = open;
      const watch = watchOf(store);
      if (!watch) return;
      const recordKey = `{${newKey()}}`;
      await store.claim({ recordKey, fingerprint: 'f', token: 'a', leaseMs: 30_000, retentionMs: 60_000 });
      const watching = watch(recordKey);
      const other = watch(`{${newKey()}}`);
      try {
        await watching.ready;
        await other.ready;
        const startedAt = performance.now();
        const woken = watching.changed({ timeoutMs: 5000 });
        const notWoken = other.changed({ timeoutMs: 400 });
        expect(await settle(store, recordKey)).toBe(true);
        await woken;
        // Woken by the change, long before its 5 s timeout; the other record's watch was not.
        expect(performance.now() - startedAt).toBeLessThan(3000);
        await notWoken;
        expect(performance.now() - startedAt).toBeGreaterThanOrEqual(395);
        // A change with nobody waiting is kept: the next wait answers at once.
        const kept = `{${newKey()}}`;
        const keptWatch = watch(kept);
        try {
          await keptWatch.ready;
          await store.claim({ recordKey: kept, fingerprint: 'f', token: 'a', leaseMs: 30_000, retentionMs: 60_000 });
          expect(await settle(store, kept)).toBe(true);
          await new Promise((resolve) => setTimeout(resolve, 300));
          const again = performance.now();
          await keptWatch.changed({ timeoutMs: 5000 });
          expect(performance.now() - again).toBeLessThan(1000);
        } finally {
          keptWatch.close();
        }
      } finally {
        watching.close();
        other.close();
      }
    },
  );

  it('wakes a watch in another store on the same records, as in another process', async () => {
    const watch = watchOf(open.store);
    if (!watch || !open.twin) {
      // Only MemoryStore, one process by design, and the polling stores have no twin to hear.
      if (watch) expect(backend.name).toBe('MemoryStore');
      return;
    }
    const twin = await open.twin();
    const recordKey = `{${newKey()}}`;
    const watching = twin.store.watch!(recordKey);
    try {
      await open.store.claim({ recordKey, fingerprint: 'f', token: 'a', leaseMs: 30_000, retentionMs: 60_000 });
      await watching.ready;
      const startedAt = performance.now();
      const woken = watching.changed({ timeoutMs: 5000 });
      await open.store.complete({ recordKey, token: 'a', outcome: 'done', retentionMs: 60_000 });
      await woken;
      expect(performance.now() - startedAt).toBeLessThan(3000);
      expect(
        await twin.store.claim({ recordKey, fingerprint: 'f', token: 'b', leaseMs: 1000, retentionMs: 60_000 }),
      ).toEqual({
        status: 'completed',
        outcome: 'done',
      });
    } finally {
      watching.close();
      await twin.close();
    }
  });

  it('ends a wait at its timeout or its signal when nothing changes', async () => {
    const watch = watchOf(open.store);
    if (!watch) return;
    const watching = watch(`{${newKey()}}`);
    try {
      await watching.ready;
      let startedAt = performance.now();
      await watching.changed({ timeoutMs: 150 });
      expect(performance.now() - startedAt).toBeGreaterThanOrEqual(145);
      const abort = new AbortController();
      startedAt = performance.now();
      setTimeout(() => abort.abort(), 50);
      await watching.changed({ timeoutMs: 5000, signal: abort.signal });
      expect(performance.now() - startedAt).toBeLessThan(3000);
    } finally {
      watching.close();
      watching.close();
    }
  });

  it('keeps outcomes of any size and content byte for byte', async () => {
    const { store } = open;
    const recordKey = `{${newKey()}}`;
    const outcome = JSON.stringify({ text: 'é€😀\u0000{}:"\\', big: 'x'.repeat(200_000) });
    await store.claim({ recordKey, fingerprint: 'f', token: 'a', leaseMs: 1000, retentionMs: 60_000 });
    await store.complete({ recordKey, token: 'a', outcome, retentionMs: 60_000 });
    expect(await store.claim({ recordKey, fingerprint: 'f', token: 'b', leaseMs: 1000, retentionMs: 60_000 })).toEqual({
      status: 'completed',
      outcome,
    });
  });
});
