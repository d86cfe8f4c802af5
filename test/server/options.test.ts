import { createIdempotency, type IdempotencyRequestContext, MemoryStore } from '@trpc-idempotency/server';
import superjson from 'superjson';
import { describe, expect, it } from 'vitest';

const store = new MemoryStore();
/** A store shape that offers transactions; only its methods' presence is checked at construction. */
const transactional = { claim() {}, complete() {}, release() {}, renewLease() {}, claimInTransaction() {} };
const scope = (ctx: IdempotencyRequestContext & { user: string }) => ctx.user;

describe('createIdempotency options', () => {
  it('builds with a store, a scope and a serializer', () => {
    expect(typeof createIdempotency({ store, scope, serializer: 'json' })).toBe('function');
    expect(typeof createIdempotency({ store, scope: 'global', serializer: superjson })).toBe('function');
  });

  it.each([
    [{ scope }, /option "store" must be an idempotency store/],
    [{ store: { claim() {} }, scope }, /option "store" must be an idempotency store/],
    [{ store }, /option "scope" must be a function of the context, or 'global'/],
    [{ store, scope: 'everyone' }, /option "scope"/],
    [{ store, scope, leaseMs: -1 }, /option "leaseMs"/],
    [{ store, scope, leaseMs: 1.5 }, /option "leaseMs"/],
    [{ store, scope, retentionMs: 0 }, /option "retentionMs"/],
    [{ store, scope, retentionMs: 1000, leaseMs: 5000 }, /option "retentionMs" must be at least twice leaseMs/],
    [
      { store, scope, retentionMs: 9999, leaseMs: 5000 },
      /option "retentionMs" must be at least twice leaseMs \(10000 ms\)/,
    ],
    [
      { store, scope, serializer: { serialize: JSON.stringify } },
      /option "serializer" must have serialize and deserialize/,
    ],
    [{ store, scope, required: 'yes' }, /option "required"/],
    [
      { store, scope, inProgress: 'wait' },
      /option "inProgress" must be 'reject' or \{ waitMs\?, maxWaitMs\?, rereadMs\? \}/,
    ],
    [
      { store, scope, inProgress: { waitMs: -1 } },
      /option "inProgress" field "waitMs" must be a whole number of ms, 0 or more/,
    ],
    [
      { store, scope, inProgress: { waitMs: 5000, maxWaitMs: 1000 } },
      /field "maxWaitMs" must be at least waitMs \(5000 ms\)/,
    ],
    [{ store, scope, inProgress: { waitMS: 10 } }, /option "inProgress" has an unknown field "waitMS"/],
    [{ store, scope, onStoreError: 'ignore' }, /option "onStoreError"/],
    [{ store, scope, shouldStoreError: true }, /option "shouldStoreError" must be a function/],
    [{ store, scope, serializer: JSON }, /option "serializer/],
    [{ store, scope, namespace: '' }, /option "namespace"/],
    [{ store, scope, onEvent: 'log' }, /option "onEvent" must be a function/],
    [{ store, scope, leaseMS: 100 }, /unknown option "leaseMS"/],
    [{ store, scope, transaction: 'yes' }, /option "transaction" must be true or false/],
    [{ store, scope, transaction: true }, /option "transaction" needs a store that runs transactions/],
    [
      { store: transactional, scope, transaction: true, onStoreError: 'fail-open' },
      /option "transaction" cannot be combined with onStoreError: 'fail-open'/,
    ],
    [{ store, scope, serializer: undefined }, /option "serializer" is required: give the transformer of initTRPC/],
  ])('names the bad option in %o', (options, message) => {
    // Every case but the serializer's own gives a valid serializer, so that only its own problem is named.
    const given = { serializer: 'json', ...options };
    expect(() => createIdempotency(given as any)).toThrow(TypeError);
    expect(() => createIdempotency(given as any)).toThrow(message);
  });
});

describe('MemoryStore', () => {
  it('removes records after retention, so memory stays bounded', async () => {
    let now = 0;
    const memory = new MemoryStore({ now: () => now, sweepIntervalMs: 60_000 });
    try {
      for (let i = 0; i < 1000; i++) {
        const claim = await memory.claim({
          recordKey: `r${i}`,
          fingerprint: 'f',
          token: `t${i}`,
          leaseMs: 10,
          retentionMs: 100,
        });
        expect(claim).toEqual({ status: 'claimed', fence: 1 });
        await memory.complete({ recordKey: `r${i}`, token: `t${i}`, outcome: 'o', retentionMs: 100 });
      }
      expect(memory.size).toBe(1000);
      now = 99;
      memory.sweep();
      expect(memory.size).toBe(1000);
      now = 100;
      memory.sweep();
      expect(memory.size).toBe(0);
    } finally {
      memory.close();
    }
  });
});

describe('MemoryStore timed sweep', () => {
  it('sweeps in slices and still removes every expired record', async () => {
    let now = 0;
    const memory = new MemoryStore({ now: () => now, sweepIntervalMs: 20, sweepBatchSize: 100 });
    try {
      for (let i = 0; i < 1000; i++) {
        await memory.claim({ recordKey: `r${i}`, fingerprint: 'f', token: 't', leaseMs: 10, retentionMs: 100 });
      }
      now = 100;
      while (memory.size === 1000) await new Promise((resolve) => setTimeout(resolve, 1));
      expect(memory.size).toBe(900);
      await expect.poll(() => memory.size, { timeout: 5000 }).toBe(0);
    } finally {
      memory.close();
    }
  });
});
