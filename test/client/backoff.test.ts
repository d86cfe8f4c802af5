import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClientRig, outcomesOf, recordingSchedule, startClientRig } from '../support/clientHarness.js';
import { trpcErrorBody } from '../support/faultProxy.js';

describe('retry delays against a real server behind a fault proxy', () => {
  let rig: ClientRig;
  beforeAll(async () => {
    rig = await startClientRig();
  });
  afterAll(async () => {
    await rig.close();
  });

  it('retries three 503s and succeeds on the 4th attempt, waiting min(cap, base * 2^(n-1)) with full jitter', async () => {
    const { schedule, planned } = recordingSchedule();
    const jitter = [0.5, 0.25, 0.9];
    const client = rig.client({ idempotency: { schedule, random: () => jitter.shift() ?? 0 } });
    const unavailable = { kind: 'answer', status: 503, body: trpcErrorBody(503, 'SERVICE_UNAVAILABLE') } as const;
    rig.proxy.plan(unavailable, unavailable, unavailable);

    const result = await client.orders.create.mutate({ item: 'desk' });

    const key = rig.proxy.requests.at(-1)!.key!;
    expect(rig.proxy.requests.filter((request) => request.key === key).map((request) => request.fault)).toEqual([
      'answer',
      'answer',
      'answer',
      'pass',
    ]);
    // Base 250 ms: ceilings 250, 500, 1000, each times the random draw.
    expect(planned.map((delay) => delay.delayMs)).toEqual([125, 125, 900]);
    const retries = rig.events.filter((event) => event.key === key && event.outcome === 'retrying');
    expect(retries.map((event) => [event.attempt, event.delayMs, event.status, event.reason])).toEqual([
      [1, 125, 503, 'server_error'],
      [2, 125, 503, 'server_error'],
      [3, 900, 503, 'server_error'],
    ]);
    expect(outcomesOf(rig.events, key).at(-1)).toBe('succeeded');
    // The 503s came from the gateway: the 4th attempt was the first to reach the handler, so no replay.
    expect(rig.events.filter((event) => event.key === key).at(-1)).toMatchObject({ attempt: 4, replayed: false });
    expect(rig.app.runsOf('ann', key)).toBe(1);
    expect(result.orderId).toBeGreaterThan(0);
  });

  it('gives up after the configured attempts and rejects with the last error', async () => {
    const { schedule, planned } = recordingSchedule();
    const client = rig.client({ idempotency: { schedule, random: () => 1, jitter: 'none' } });
    const unavailable = { kind: 'answer', status: 503, body: trpcErrorBody(503, 'SERVICE_UNAVAILABLE') } as const;
    rig.proxy.plan(unavailable, unavailable, unavailable, unavailable, unavailable);
    const before = rig.proxy.requests.length;

    const error = await client.orders.create.mutate({ item: 'desk' }).catch((caught: unknown) => caught);

    expect(error).toMatchObject({ name: 'TRPCClientError', data: { httpStatus: 503 } });
    expect(rig.proxy.requests.length - before).toBe(5);
    expect(planned.map((delay) => delay.delayMs)).toEqual([250, 500, 1000, 2000]);
    const key = rig.proxy.requests.at(-1)!.key!;
    expect(rig.app.runsOf('ann', key)).toBe(0);
    expect(rig.events.filter((event) => event.key === key).at(-1)).toMatchObject({ outcome: 'failed', attempt: 5 });
  });

  it('per-call settings override the client: attempts and delays come from context.idempotency', async () => {
    const { schedule, planned } = recordingSchedule();
    const client = rig.client({ idempotency: { schedule, jitter: 'none' } });
    const unavailable = { kind: 'answer', status: 502, body: '<html>bad gateway</html>' } as const;
    rig.proxy.plan(unavailable, unavailable);
    const before = rig.proxy.requests.length;

    const error = await client.orders.create
      .mutate({ item: 'desk' }, { context: { idempotency: { attempts: 2, baseDelayMs: 40 } } })
      .catch((caught: unknown) => caught);

    expect(rig.proxy.requests.length - before).toBe(2);
    expect(planned.map((delay) => delay.delayMs)).toEqual([40]);
    // An HTML 502 has no tRPC body: the status comes from the response the client's fetch saw.
    expect(rig.events.at(-1)).toMatchObject({ outcome: 'failed', status: 502, reason: 'server_error' });
    expect(error).toMatchObject({ name: 'TRPCClientError' });
  });

  it.each([
    ['a tRPC body', trpcErrorBody(429, 'TOO_MANY_REQUESTS')],
    ['a plain-text body', 'slow down'],
  ])('plans the attempt after a 429 with Retry-After: 2 (%s) at least 2 s later, within the cap', async (_, body) => {
    const { schedule, planned } = recordingSchedule();
    const client = rig.client({ idempotency: { schedule, random: () => 0 } });
    rig.proxy.plan({ kind: 'answer', status: 429, headers: { 'retry-after': '2' }, body });

    await client.orders.create.mutate({ item: 'chair' });

    expect(planned).toHaveLength(1);
    expect(planned[0]!.delayMs).toBeGreaterThanOrEqual(2000);
    expect(planned[0]!.delayMs).toBeLessThanOrEqual(5000);
    expect(rig.events.filter((event) => event.outcome === 'retrying').at(-1)).toMatchObject({
      reason: 'rate_limited',
      status: 429,
      delayMs: planned[0]!.delayMs,
    });
  });

  it('waits a Retry-After longer than maxDelayMs in full, up to maxRetryAfterMs, in seconds or as an HTTP-date', async () => {
    const { schedule, planned } = recordingSchedule();
    const client = rig.client({ idempotency: { schedule, random: () => 0, maxDelayMs: 3000 } });
    const later = new Date(Date.now() + 20_000).toUTCString();
    rig.proxy.plan(
      { kind: 'answer', status: 429, headers: { 'retry-after': '30' }, body: trpcErrorBody(429, 'TOO_MANY_REQUESTS') },
      { kind: 'answer', status: 503, headers: { 'retry-after': later }, body: 'maintenance' },
    );

    await client.orders.create.mutate({ item: 'chair' });

    expect(planned[0]!.delayMs).toBe(30_000);
    // An HTTP-date counts whole seconds, and some time passed since it was written.
    expect(planned[1]!.delayMs).toBeGreaterThan(10_000);
    expect(planned[1]!.delayMs).toBeLessThanOrEqual(20_000);
    expect(planned).toHaveLength(2);
  });

  it('gives up at once on a Retry-After above maxRetryAfterMs (set per call), and rejects with that answer', async () => {
    const { schedule, planned } = recordingSchedule();
    const client = rig.client({ idempotency: { schedule, maxRetryAfterMs: 60_000 } });
    rig.proxy.plan({ kind: 'answer', status: 503, headers: { 'retry-after': '30' }, body: 'maintenance' });
    const before = rig.proxy.requests.length;

    const error = await client.orders.create
      .mutate({ item: 'chair' }, { context: { idempotency: { maxRetryAfterMs: 10_000 } } })
      .catch((caught: unknown) => caught);

    expect(error).toMatchObject({ name: 'TRPCClientError' });
    expect(rig.proxy.requests.length - before).toBe(1);
    expect(planned).toEqual([]);
    const key = rig.proxy.requests.at(-1)!.key!;
    expect(outcomesOf(rig.events, key)).toEqual(['started', 'failed']);
    expect(rig.events.at(-1)).toMatchObject({ outcome: 'failed', reason: 'server_error', status: 503 });
    expect(rig.app.runsOf('ann', key)).toBe(0);
  });
});
