import { type IdempotencyStore, RecordWatches } from '@trpc-idempotency/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { preferredWaitSeconds } from '../../packages/server/src/preferWait.js';
import { postMutation, startTestApp, type TestApp, type TestAppOptions } from '../support/app.js';
import { backends, newKey, type OpenBackend } from '../support/backends.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The store, with every claim counted by record key. */
function countingClaims(store: IdempotencyStore): { store: IdempotencyStore; claims: () => number } {
  let claims = 0;
  const counted = new Proxy(store, {
    get(target, property) {
      if (property === 'claim' || property === 'claimInTransaction') {
        return (request: unknown) => {
          claims++;
          return (target as any)[property](request);
        };
      }
      const value = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { store: counted, claims: () => claims };
}

/** The first call holds its key `holdMs`; the duplicate comes `arriveMs` later with `headers`. */
async function firstAndDuplicate(app: TestApp, headers: Record<string, string>, holdMs = 400, arriveMs = 100) {
  const key = newKey();
  const base = { 'idempotency-key': key, 'x-user': 'ann' };
  let firstAt = 0;
  const first = postMutation(app.url, 'orders.create', { item: 'book', sleepMs: holdMs }, base).then((answer) => {
    firstAt = performance.now();
    return answer;
  });
  await sleep(arriveMs);
  const sentAt = performance.now();
  const duplicate = await postMutation(
    app.url,
    'orders.create',
    { item: 'book', sleepMs: holdMs },
    { ...base, ...headers },
  );
  const duplicateAt = performance.now();
  const firstAnswer = await first;
  return { key, first: firstAnswer, duplicate, lagMs: duplicateAt - firstAt, tookMs: duplicateAt - sentAt };
}

describe('Prefer: wait=<seconds>, as the server reads it', () => {
  it.each([
    ['wait=5', 5],
    ['respond-async, wait=10', 10],
    ['WAIT = 3', 3],
    ['wait="7"', 7],
    [['handling=lenient', 'wait=2, wait=9'], 2],
    ['wait=99999999999', 1_000_000],
    ['wait=soon', undefined],
    ['wait=-1', undefined],
    ['respond-async', undefined],
    [undefined, undefined],
  ] as const)('reads %j as %j', (header, seconds) => {
    expect(preferredWaitSeconds(header as string | string[] | undefined)).toBe(seconds);
  });
});

describe.each(backends())('a duplicate waiting for the first call on $name', (backend) => {
  let open: OpenBackend;
  beforeAll(async () => {
    open = await backend.create();
  });
  afterAll(async () => {
    await open.close();
  });

  async function withApp<T>(
    options: Omit<TestAppOptions, 'store'>,
    run: (app: TestApp, claims: () => number) => Promise<T>,
  ) {
    const { store, claims } = countingClaims(open.store);
    const app = await startTestApp({ ...options, store });
    try {
      return await run(app, claims);
    } finally {
      await app.close();
    }
  }

  it('gets the outcome the moment it is stored when it asks with Prefer: wait, on the default server', async () => {
    await withApp({}, async (app, claims) => {
      const { key, first, duplicate, lagMs } = await firstAndDuplicate(app, { prefer: 'wait=5' });
      expect(first.status).toBe(200);
      expect(duplicate.status).toBe(200);
      expect(duplicate.data.orderId).toBe(first.data.orderId);
      expect(duplicate.headers.get('idempotent-replayed')).toBe('true');
      expect(duplicate.headers.get('preference-applied')).toBe('wait=5');
      expect(app.runsOf('ann', key)).toBe(1);
      // Within a re-read interval (1 s) of the first answer even on a loaded machine; a poll would be ~200 ms late.
      expect(lagMs).toBeLessThan(1000);
      if (open.store.watch) {
        // Woken, not polling: the first claim, one after the watch was ready, one after the wake (and at
        // most one more for a wake that came early). Polling 10 ms doubling to 200 ms over 300 ms is 6 or more.
        expect(claims() - 1).toBeLessThanOrEqual(4);
      }
    });
  });

  it('gets 409 IN_PROGRESS at once without Prefer on the default server, and with it when inProgress is reject', async () => {
    for (const [options, headers] of [
      [{}, {}],
      [{ inProgress: 'reject' }, { prefer: 'wait=5' }],
    ] as const) {
      await withApp(options, async (app) => {
        const { duplicate, tookMs } = await firstAndDuplicate(app, headers);
        expect(duplicate.status).toBe(409);
        expect(duplicate.error?.data.idempotency.code).toBe('IN_PROGRESS');
        expect(duplicate.headers.get('preference-applied')).toBeNull();
        expect(tookMs).toBeLessThan(250);
      });
    }
  });

  it('cuts an asked-for wait to maxWaitMs, and says so in Preference-Applied', async () => {
    await withApp({ inProgress: { maxWaitMs: 1000 } }, async (app) => {
      const { key, duplicate, tookMs } = await firstAndDuplicate(app, { prefer: 'wait=30' }, 2500, 100);
      expect(duplicate.status).toBe(409);
      expect(duplicate.headers.get('preference-applied')).toBe('wait=1');
      expect(tookMs).toBeGreaterThanOrEqual(950);
      expect(tookMs).toBeLessThan(2300);
      expect(app.runsOf('ann', key)).toBe(1);
    });
  });

  it('runs the handler itself when the first call releases its lease, woken by the release', async () => {
    await withApp({}, async (app) => {
      const key = newKey();
      const headers = { 'idempotency-key': key, 'x-user': 'ann' };
      const first = postMutation(app.url, 'orders.fail', { mode: 'internal', sleepMs: 300 }, headers);
      await sleep(100);
      const duplicate = await postMutation(
        app.url,
        'orders.fail',
        { mode: 'internal', sleepMs: 300 },
        { ...headers, prefer: 'wait=5' },
      );
      expect((await first).status).toBe(500);
      // The 5xx released the lease; the woken duplicate claimed and ran the handler itself.
      expect(duplicate.status).toBe(500);
      expect(app.runsOf('ann', key)).toBe(2);
      expect(app.effects.fences.get(key)).toEqual([1, 2]);
    });
  });
});

describe('a lost notification', () => {
  it('is covered by the re-read: a store whose watch never fires still answers the waiter with the outcome', async () => {
    const open = await backends()[0]!.create(); // MemoryStore
    // The store's own records, with a watch that is ready and never woken: every notification lost.
    const silent = new RecordWatches();
    const store = new Proxy(open.store, {
      get(target, property) {
        if (property === 'watch') return (recordKey: string) => silent.watch(recordKey);
        const value = Reflect.get(target, property, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const app = await startTestApp({ store, inProgress: { waitMs: 5000, rereadMs: 150 } });
    try {
      const { key, first, duplicate, lagMs } = await firstAndDuplicate(app, {});
      expect(duplicate.status).toBe(200);
      expect(duplicate.data.orderId).toBe(first.data.orderId);
      // Without the re-read it would wait out the 30 s lease, past its 5 s wait, and get 409.
      expect(lagMs).toBeLessThan(1500);
      expect(app.runsOf('ann', key)).toBe(1);
    } finally {
      await app.close();
      await open.close();
    }
  });
});
