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
    expect(busy.status === 'in_progress' && busy.retryAfterMs).toBeGreaterThan(0);

    await sleep(150);
    expect(await store.claim({ ...base, token: 'b' })).toEqual({ status: 'claimed', fence: 2 });
    expect(await store.complete({ recordKey, token: 'a', outcome: 'stale', retentionMs: 60_000 })).toBe(false);
    expect(await store.renewLease({ recordKey, token: 'a', leaseMs: 100 })).toBe(false);
    expect(await store.release({ recordKey, token: 'a' })).toBe(false);

    expect(await store.release({ recordKey, token: 'b' })).toBe(true);
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
    expect(await store.renewLease({ recordKey, token: 'a', leaseMs: 1000 })).toBe(true);
    expect(await store.complete({ recordKey, token: 'a', outcome: 'x', retentionMs: 60_000 })).toBe(true);
    expect(await store.complete({ recordKey, token: 'a', outcome: 'x', retentionMs: 60_000 })).toBe(true);
    expect(await store.renewLease({ recordKey, token: 'a', leaseMs: 1000 })).toBe(false);

    const released = `{${newKey()}}`;
    await store.claim({ ...base, recordKey: released });
    expect(await store.release({ recordKey: released, token: 'a' })).toBe(true);
    expect(await store.release({ recordKey: released, token: 'a' })).toBe(true);
  });

  it('renews a live lease so that no one takes it over', async () => {
    const { store } = open;
    const recordKey = `{${newKey()}}`;
    const base = { recordKey, fingerprint: 'f', leaseMs: 200, retentionMs: 60_000 };
    await store.claim({ ...base, token: 'a' });
    for (let i = 0; i < 4; i++) {
      await sleep(100);
      expect(await store.renewLease({ recordKey, token: 'a', leaseMs: 200 })).toBe(true);
    }
    expect((await store.claim({ ...base, token: 'b' })).status).toBe('in_progress');
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
