import { type IdempotencyStore, StoreUnavailableError } from '@trpc-idempotency/server';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { postMutation, startTestApp, type TestApp } from '../support/app.js';
import { backends, newKey, type OpenBackend } from '../support/backends.js';

const user = 'drain-user';
const headersFor = (key: string) => ({ 'idempotency-key': key, 'x-user': user });

describe.each(backends().filter((b) => b.name !== 'Redis Cluster'))('drain() on $name', (backend) => {
  let open: OpenBackend;
  const apps: TestApp[] = [];
  const start = async (store: IdempotencyStore = open.store) => {
    const app = await startTestApp({ store });
    apps.push(app);
    return app;
  };

  beforeAll(async () => {
    open = await backend.create();
  });
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((app) => app.close()));
  });
  afterAll(() => open?.close());

  it('refuses new keyed calls with 503 SERVER_DRAINING, lets the call in flight finish and complete, and a retry elsewhere replays it', async () => {
    const [leaving, staying] = [await start(), await start()];
    const key = newKey('in-flight');
    const inFlight = postMutation(leaving.url, 'orders.create', { item: 'lamp', sleepMs: 300 }, headersFor(key));
    await expect.poll(() => leaving.runsOf(user, key)).toBe(1);

    const drained = leaving.drain({ timeoutMs: 5000 });
    const refused = await postMutation(leaving.url, 'orders.create', { item: 'desk' }, headersFor(newKey('late')));
    expect(refused.status).toBe(503);
    expect(refused.error?.data.idempotency).toEqual({ code: 'SERVER_DRAINING', retryAfterMs: 200 });
    expect(refused.headers.get('retry-after')).toBe('1');

    const report = await drained;
    expect(report).toMatchObject({ finished: 1, refused: 1, released: [], unsettled: [] });
    expect((await inFlight).status).toBe(200);

    const retry = await postMutation(staying.url, 'orders.create', { item: 'lamp', sleepMs: 300 }, headersFor(key));
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(retry.data.orderId).toBe((await inFlight).data.orderId);
    expect(leaving.runsOf(user, key) + staying.runsOf(user, key)).toBe(1);
    // Queries still pass while draining: only new claims stop.
    expect((await fetch(`${leaving.url}/orders.list`)).status).toBe(200);
  });

  it('at the deadline aborts the handler still running and releases its lease, so a retry elsewhere need not wait for it', async () => {
    const [leaving, staying] = [await start(), await start()];
    const key = newKey('slow');
    const piano = { item: 'piano', sleepMs: 1000 };
    void postMutation(leaving.url, 'orders.create', piano, headersFor(key)).catch(() => {});
    await expect.poll(() => leaving.runsOf(user, key)).toBe(1);

    const report = await leaving.drain({ timeoutMs: 100 });
    expect(report.finished).toBe(0);
    expect(report.unsettled).toEqual([]);
    expect(report.released).toEqual([
      {
        path: 'orders.create',
        recordKey: expect.stringMatching(/^\{[0-9a-f]{64}\}$/),
        fence: 1,
        reason: 'handler still running',
      },
    ]);
    expect(JSON.stringify(report)).not.toContain(key);
    expect(leaving.effects.aborts.get(key)).toHaveLength(1);

    // Without the release this would be 409 IN_PROGRESS for the rest of the 30 s lease.
    const retry = await postMutation(staying.url, 'orders.create', piano, headersFor(key));
    expect(retry.status).toBe(200);
    expect(retry.data.fence).toBe(2);
  });

  it('reports a lease it could not release when the store does not answer', async () => {
    const failingRelease: IdempotencyStore = {
      claim: (request) => open.store.claim(request),
      complete: (request) => open.store.complete(request),
      renewLease: (request) => open.store.renewLease(request),
      // A fake only for the fault: a store that cannot be reached at the very moment of the release.
      release: async () => {
        throw new StoreUnavailableError('store down');
      },
    };
    const leaving = await start(failingRelease);
    const key = newKey('stuck');
    void postMutation(leaving.url, 'orders.create', { item: 'organ', sleepMs: 1000 }, headersFor(key)).catch(() => {});
    await expect.poll(() => leaving.runsOf(user, key)).toBe(1);
    const report = await leaving.drain({ timeoutMs: 50 });
    expect(report.released).toEqual([]);
    expect(report.unsettled).toEqual([
      { path: 'orders.create', recordKey: expect.any(String), fence: 1, reason: 'store unreachable' },
    ]);
  });
});
