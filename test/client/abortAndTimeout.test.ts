import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClientRig, outcomesOf, recordingSchedule, startClientRig } from '../support/clientHarness.js';
import { trpcErrorBody } from '../support/faultProxy.js';

describe('caller aborts and attempt timeouts', () => {
  let rig: ClientRig;
  beforeAll(async () => {
    rig = await startClientRig();
  });
  afterAll(async () => {
    await rig.close();
  });

  it('makes no further attempt once the caller aborts during an attempt', async () => {
    const { schedule, planned } = recordingSchedule();
    const client = rig.client({ idempotency: { schedule } });
    rig.proxy.plan({ kind: 'delay-response', ms: 300 });
    const controller = new AbortController();
    const before = rig.proxy.requests.length;
    const arrived = new Promise((resolve) => rig.proxy.events.once('request', resolve));

    const call = client.orders.create.mutate({ item: 'vase' }, { signal: controller.signal });
    await arrived;
    controller.abort();
    const error = await call.catch((caught: unknown) => caught);

    expect(error).toMatchObject({ name: 'TRPCClientError' });
    expect((error as Error).cause).toMatchObject({ name: 'AbortError' });
    // Wait until the proxy is done with the held response: any retry would have been sent by then.
    await rig.proxy.waitForDone(before + 1);
    await new Promise((resolve) => setImmediate(resolve));
    expect(rig.proxy.requests.length - before).toBe(1);
    expect(planned).toEqual([]);
    const key = rig.proxy.requests.at(-1)!.key!;
    expect(outcomesOf(rig.events, key)).toEqual(['started', 'aborted']);
  });

  it('cancels a pending retry delay when the caller aborts while waiting', async () => {
    const { schedule, planned, release } = recordingSchedule({ hold: true });
    const client = rig.client({ idempotency: { schedule } });
    rig.proxy.plan({ kind: 'answer', status: 503, body: trpcErrorBody(503, 'SERVICE_UNAVAILABLE') });
    const controller = new AbortController();
    const before = rig.proxy.requests.length;

    const call = client.orders.create.mutate({ item: 'vase' }, { signal: controller.signal });
    await expect.poll(() => planned.length, { interval: 5 }).toBe(1);
    controller.abort();
    const error = await call.catch((caught: unknown) => caught);
    release();
    await new Promise((resolve) => setImmediate(resolve));

    expect(error).toMatchObject({ name: 'TRPCClientError', cause: { name: 'AbortError' } });
    expect(planned).toEqual([{ delayMs: expect.any(Number), cancelled: true }]);
    expect(rig.proxy.requests.length - before).toBe(1);
    const key = rig.proxy.requests.at(-1)!.key!;
    expect(outcomesOf(rig.events, key)).toEqual(['started', 'retrying', 'aborted']);
  });

  it('never sends a call whose signal is already aborted', async () => {
    const client = rig.client();
    const before = rig.proxy.requests.length;
    const error = await client.orders.create
      .mutate({ item: 'vase' }, { signal: AbortSignal.abort() })
      .catch((caught: unknown) => caught);
    expect(error).toMatchObject({ name: 'TRPCClientError', cause: { name: 'AbortError' } });
    expect(rig.proxy.requests.length).toBe(before);
  });

  it('retries an attempt that timed out, with the same key, and gets the result the server stored', async () => {
    const { schedule } = recordingSchedule();
    const client = rig.client({ idempotency: { schedule, attemptTimeoutMs: 800 } });
    // The server commits at once; the proxy holds its answer past the client's attempt timeout.
    rig.proxy.plan({ kind: 'delay-response', ms: 4000 });

    const result = await client.orders.create.mutate({ item: 'clock' });

    const key = rig.events.at(-1)!.key;
    const requests = rig.proxy.requests.filter((request) => request.key === key);
    expect(requests.map((request) => request.fault)).toEqual(['delay-response', 'pass']);
    const events = rig.events.filter((event) => event.key === key);
    expect(events.map((event) => event.outcome)).toEqual(['started', 'retrying', 'started', 'succeeded']);
    expect(events[1]).toMatchObject({ reason: 'timeout', error: { cause: { name: 'AttemptTimeoutError' } } });
    expect(events[3]).toMatchObject({ replayed: true });
    expect(rig.app.runsOf('ann', key)).toBe(1);
    expect(result.orderId).toBeGreaterThan(0);
  });
});
