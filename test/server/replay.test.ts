import { createTRPCClient, httpLink } from '@trpc/client';
import superjson from 'superjson';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postMutation, startTestApp, type TestApp, type TestRouter } from '../support/app.js';
import { backends, newKey, type OpenBackend } from '../support/backends.js';

describe.each(backends())('stored outcomes on $name', (backend) => {
  let open: OpenBackend;
  let app: TestApp;
  beforeAll(async () => {
    open = await backend.create();
    app = await startTestApp({ store: open.store });
  });
  afterAll(async () => {
    await app.close();
    await open.close();
  });

  it('replays a completed result to a sequential retry, with Date, Map and BigInt intact and Idempotent-Replayed set', async () => {
    const key = newKey();
    const seen: Array<string | null> = [];
    const client = createTRPCClient<TestRouter>({
      links: [
        httpLink({
          url: app.url,
          transformer: superjson,
          headers: () => ({ 'idempotency-key': key, 'x-user': 'ann' }),
          fetch: async (input, init) => {
            const response = await fetch(input, init);
            seen.push(response.headers.get('idempotent-replayed'));
            return response;
          },
        }),
      ],
    });
    const input = { item: 'lamp', qty: 3, at: new Date('2026-05-06T07:08:09.010Z') };
    const first = await client.orders.create.mutate(input);
    const second = await client.orders.create.mutate(input);

    expect(app.runsOf('ann', key)).toBe(1);
    expect(second).toEqual(first);
    expect(second.createdAt).toBeInstanceOf(Date);
    expect(second.createdAt.toISOString()).toBe('2026-01-02T03:04:05.000Z');
    expect(second.tags).toBeInstanceOf(Map);
    expect(second.tags.get('item')).toBe('lamp');
    expect(second.totalCents).toBe(5997n);
    expect(second.at?.getTime()).toBe(input.at.getTime());
    expect(seen).toEqual([null, 'true']);
  });

  it('answers the same key with a different input with 422 PAYLOAD_MISMATCH, without running the handler', async () => {
    const key = newKey();
    const headers = { 'idempotency-key': key, 'x-user': 'ann' };
    expect((await postMutation(app.url, 'orders.create', { item: 'lamp' }, headers)).status).toBe(200);
    const mismatch = await postMutation(app.url, 'orders.create', { item: 'sofa' }, headers);
    expect(mismatch.status).toBe(422);
    expect(mismatch.error?.data.code).toBe('UNPROCESSABLE_CONTENT');
    expect(mismatch.error?.data.idempotency).toEqual({ code: 'PAYLOAD_MISMATCH' });
    expect(app.runsOf('ann', key)).toBe(1);
  });

  it('sees the same input written with a shared Date or with two equal Dates as one input, not a mismatch', async () => {
    const key = newKey();
    const headers = { 'idempotency-key': key, 'x-user': 'ann' };
    const at = new Date('2026-05-06T07:08:09.010Z');
    const shared = await postMutation(app.url, 'orders.create', { item: 'lamp', at, also: at }, headers);
    const copied = await postMutation(app.url, 'orders.create', { item: 'lamp', at, also: new Date(at) }, headers);
    expect(shared.status).toBe(200);
    expect(copied.status).toBe(200);
    expect(copied.headers.get('idempotent-replayed')).toBe('true');
    expect(app.runsOf('ann', key)).toBe(1);
  });

  it('treats the same key under the same input as another procedure as a separate record', async () => {
    const key = newKey();
    const headers = { 'idempotency-key': key, 'x-user': 'ann' };
    expect((await postMutation(app.url, 'orders.create', { item: 'lamp' }, headers)).status).toBe(200);
    const other = await postMutation(app.url, 'optional.create', { item: 'lamp' }, headers);
    expect(other.status).toBe(200);
    expect(other.data).toEqual({ item: 'lamp', keyed: true });
    expect(app.runsOf('ann', key)).toBe(2);
  });

  it('keeps scopes apart: the same key from two users runs twice and each sees only its own result', async () => {
    const key = newKey();
    const ann = await postMutation(
      app.url,
      'orders.create',
      { item: 'lamp' },
      { 'idempotency-key': key, 'x-user': 'ann' },
    );
    const bob = await postMutation(
      app.url,
      'orders.create',
      { item: 'lamp' },
      { 'idempotency-key': key, 'x-user': 'bob' },
    );
    const annAgain = await postMutation(
      app.url,
      'orders.create',
      { item: 'lamp' },
      { 'idempotency-key': key, 'x-user': 'ann' },
    );
    const bobAgain = await postMutation(
      app.url,
      'orders.create',
      { item: 'lamp' },
      { 'idempotency-key': key, 'x-user': 'bob' },
    );
    expect(app.runsOf('ann', key)).toBe(1);
    expect(app.runsOf('bob', key)).toBe(1);
    expect(ann.data.user).toBe('ann');
    expect(bob.data.user).toBe('bob');
    expect(ann.data.orderId).not.toBe(bob.data.orderId);
    expect(annAgain.data).toEqual(ann.data);
    expect(bobAgain.data).toEqual(bob.data);
  });

  it('stores a deliberate BAD_REQUEST and replays it as the same error', async () => {
    const key = newKey();
    const headers = { 'idempotency-key': key, 'x-user': 'ann' };
    const first = await postMutation(app.url, 'orders.fail', { mode: 'bad_request' }, headers);
    const second = await postMutation(app.url, 'orders.fail', { mode: 'bad_request' }, headers);
    expect(first.status).toBe(400);
    expect(first.error?.message).toBe('card declined');
    expect(second.status).toBe(400);
    expect(second.error?.message).toBe('card declined');
    expect(second.error?.data.code).toBe('BAD_REQUEST');
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(app.runsOf('ann', key)).toBe(1);
  });

  it.each(['crash', 'internal'] as const)(
    'releases the lease after a %s error, so a retry runs the handler again',
    async (mode) => {
      const key = newKey();
      const headers = { 'idempotency-key': key, 'x-user': 'ann' };
      const first = await postMutation(app.url, 'orders.fail', { mode }, headers);
      const second = await postMutation(app.url, 'orders.fail', { mode }, headers);
      expect(first.status).toBe(500);
      expect(second.status).toBe(500);
      expect(second.headers.get('idempotent-replayed')).toBeNull();
      expect(app.runsOf('ann', key)).toBe(2);
    },
  );

  it('runs the handler again once retention has ended', async () => {
    const shortLived = await startTestApp({ store: open.store, retentionMs: 400, leaseMs: 200 });
    try {
      const key = newKey();
      const headers = { 'idempotency-key': key, 'x-user': 'ann' };
      await postMutation(shortLived.url, 'orders.create', { item: 'lamp' }, headers);
      const replay = await postMutation(shortLived.url, 'orders.create', { item: 'lamp' }, headers);
      expect(replay.headers.get('idempotent-replayed')).toBe('true');
      await new Promise((resolve) => setTimeout(resolve, 700));
      const again = await postMutation(shortLived.url, 'orders.create', { item: 'lamp' }, headers);
      expect(again.status).toBe(200);
      expect(again.headers.get('idempotent-replayed')).toBeNull();
      expect(shortLived.runsOf('ann', key)).toBe(2);
    } finally {
      await shortLived.close();
    }
  });

  it('lets queries through untouched, and runs a keyless mutation where the key is optional', async () => {
    const query = await fetch(`${app.url}/orders.list`, { headers: { 'x-user': 'ann' } });
    expect(query.status).toBe(200);

    const keyless = await postMutation(app.url, 'optional.create', { item: 'pen' }, { 'x-user': 'ann' });
    const keylessAgain = await postMutation(app.url, 'optional.create', { item: 'pen' }, { 'x-user': 'ann' });
    expect(keyless.data).toEqual({ item: 'pen', keyed: false });
    expect(keylessAgain.data).toEqual({ item: 'pen', keyed: false });
    expect(app.runsOf('ann', '(none)')).toBe(2);

    const required = await postMutation(app.url, 'orders.create', { item: 'pen' }, { 'x-user': 'ann' });
    expect(required.error?.data.idempotency.code).toBe('KEY_MISSING');
  });
});
