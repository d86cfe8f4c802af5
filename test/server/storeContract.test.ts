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
