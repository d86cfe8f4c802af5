import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newKey } from '../support/backends.js';
import { type ClientRig, recordingSchedule, startClientRig } from '../support/clientHarness.js';

describe('the response probe keeps each attempt to itself', () => {
  let rig: ClientRig;
  beforeAll(async () => {
    rig = await startClientRig();
  });
  afterAll(async () => {
    await rig.close();
  });

  it("two sequences with one key never read each other's status or Retry-After", async () => {
    // Held retries: neither sequence starts another attempt until both first attempts have been judged.
    const { schedule, planned, release } = recordingSchedule({ hold: true });
    const client = rig.client({ idempotency: { schedule } });
    const key = newKey('one-key-two-sequences');
    // The first request's response is lost after the handler ran; the second gets a gateway's HTML 503,
    // whose status and Retry-After only the client's fetch can see. The 503 arrives first, while the
    // handler of the first is still running, so a probe keyed by the Idempotency-Key would hand it to both.
    rig.proxy.plan(
      { kind: 'reset-after-forward' },
      {
        kind: 'answer',
        status: 503,
        headers: { 'retry-after': '30', 'content-type': 'text/html' },
        body: '<h1>down</h1>',
      },
    );
    const before = rig.proxy.requests.length;

    // Two paths, so the two calls are two sequences (and two records at the server) with one key.
    const lost = client.orders.create.mutate({ item: 'clock', sleepMs: 300 }, { context: { idempotencyKey: key } });
    await rig.proxy.waitForRequests(before + 1);
    const gateway = client.optional.create.mutate({ item: 'clock' }, { context: { idempotencyKey: key } });
    await expect.poll(() => planned.length, { timeout: 10_000, interval: 5 }).toBe(2);

    const retrying = (path: string) =>
      rig.events.find((event) => event.key === key && event.path === path && event.outcome === 'retrying');
    expect(retrying('optional.create')).toMatchObject({ reason: 'server_error', status: 503, delayMs: 30_000 });
    // The lost response has no status of its own: it is a network failure with plain backoff.
    expect(retrying('orders.create')).toMatchObject({ reason: 'network' });
    expect(retrying('orders.create')!.status).toBeUndefined();
    expect(retrying('orders.create')!.delayMs).toBeLessThanOrEqual(250);

    release();
    const [order, note] = await Promise.all([lost, gateway]);

    expect(order.orderId).toBeGreaterThan(0);
    expect(note).toEqual({ item: 'clock', keyed: true });
    const succeeded = (path: string) =>
      rig.events.find((event) => event.key === key && event.path === path && event.outcome === 'succeeded');
    expect(succeeded('orders.create')).toMatchObject({ replayed: true, attempt: 2 });
    expect(succeeded('optional.create')).toMatchObject({ replayed: false, attempt: 2 });
  });
});
