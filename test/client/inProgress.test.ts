import { isIdempotencyError, mutateWithMeta } from '@trpc-idempotency/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postMutation } from '../support/app.js';
import { newKey } from '../support/backends.js';
import {
  type ClientRig,
  idempotencyErrorBody,
  outcomesOf,
  recordingSchedule,
  startClientRig,
  waitForClaim,
} from '../support/clientHarness.js';
import { trpcErrorBody } from '../support/faultProxy.js';

const busy = (retryAfterMs?: number, headers: Record<string, string> = {}) =>
  ({
    kind: 'answer',
    status: 409,
    headers,
    body: idempotencyErrorBody(
      409,
      'CONFLICT',
      retryAfterMs === undefined ? { code: 'IN_PROGRESS' } : { code: 'IN_PROGRESS', retryAfterMs },
    ),
  }) as const;
const unavailable = { kind: 'answer', status: 503, body: trpcErrorBody(503, 'SERVICE_UNAVAILABLE') } as const;

describe('409 IN_PROGRESS is waited out within a time budget, not an attempt count (docs/protocol.md §4)', () => {
  let rig: ClientRig;
  beforeAll(async () => {
    rig = await startClientRig();
  });
  afterAll(async () => {
    await rig.close();
  });

  it("waits by the server's retryAfterMs, preferred over Retry-After, and never uses up attempts", async () => {
    const { schedule, planned } = recordingSchedule();
    const client = rig.client({ idempotency: { schedule, random: () => 0, attempts: 1 } });
    rig.proxy.plan(busy(120, { 'retry-after': '1' }), busy(900), busy(40));
    const before = rig.proxy.requests.length;

    const order = await client.orders.create.mutate({ item: 'kettle' });

    const key = rig.proxy.requests.at(-1)!.key!;
    expect(rig.proxy.requests.slice(before).map((request) => request.fault)).toEqual([
      'answer',
      'answer',
      'answer',
      'pass',
    ]);
    expect(planned.map((delay) => delay.delayMs)).toEqual([120, 900, 40]);
    const events = rig.events.filter((event) => event.key === key);
    expect(events.filter((event) => event.outcome === 'retrying').map((event) => event.reason)).toEqual([
      'in_progress',
      'in_progress',
      'in_progress',
    ]);
    expect(events.at(-1)).toMatchObject({ outcome: 'succeeded', attempt: 4, maxAttempts: 1 });
    expect(rig.app.runsOf('ann', key)).toBe(1);
    expect(order.orderId).toBeGreaterThan(0);
  });

  it('follows the ordinary backoff when the server gives no hint', async () => {
    const { schedule, planned } = recordingSchedule();
    const client = rig.client({ idempotency: { schedule, jitter: 'none' } });
    rig.proxy.plan(busy(), busy(), busy());

    await client.orders.create.mutate({ item: 'kettle' });

    expect(planned.map((delay) => delay.delayMs)).toEqual([250, 500, 1000]);
  });

  it('still counts every other failure against attempts, whatever IN_PROGRESS answers come between them', async () => {
    const { schedule, planned } = recordingSchedule();
    const client = rig.client({ idempotency: { schedule, random: () => 0, jitter: 'none', attempts: 2 } });
    rig.proxy.plan(unavailable, busy(70), busy(80), unavailable);
    const before = rig.proxy.requests.length;

    const error = await client.orders.create.mutate({ item: 'kettle' }).catch((caught: unknown) => caught);

    expect(error).toMatchObject({ name: 'TRPCClientError', data: { httpStatus: 503 } });
    expect(rig.proxy.requests.length - before).toBe(4);
    // The backoff counts only the failures that use attempts: the 503 after the waits is retry 2, not 4.
    expect(planned.map((delay) => delay.delayMs)).toEqual([250, 70, 80]);
    const key = rig.proxy.requests.at(-1)!.key!;
    expect(rig.events.filter((event) => event.key === key).at(-1)).toMatchObject({
      outcome: 'failed',
      reason: 'server_error',
      attempt: 4,
    });
  });

  it('with maxInProgressWaitMs: 0, set per call, an IN_PROGRESS answer is final', async () => {
    const { schedule, planned } = recordingSchedule();
    const client = rig.client({ idempotency: { schedule } });
    rig.proxy.plan(busy(50));
    const before = rig.proxy.requests.length;

    const error = await client.orders.create
      .mutate({ item: 'kettle' }, { context: { idempotency: { maxInProgressWaitMs: 0 } } })
      .catch((caught: unknown) => caught);

    expect(isIdempotencyError(error, 'IN_PROGRESS')).toBe(true);
    expect(rig.proxy.requests.length - before).toBe(1);
    expect(planned).toEqual([]);
    expect(rig.events.at(-1)).toMatchObject({ outcome: 'failed', reason: 'in_progress', status: 409 });
  });

  it('gives up with the IN_PROGRESS error once the budget is spent, even with attempts left', async () => {
    const key = newKey('slow');
    const input = { item: 'oven', sleepMs: 2500 };
    const first = postMutation(rig.app.url, 'orders.create', input, { 'idempotency-key': key, 'x-user': 'ann' });
    await waitForClaim(rig, key);
    const planned: number[] = [];
    const client = rig.client({
      idempotency: {
        maxInProgressWaitMs: 400,
        attempts: 1,
        schedule: (run, delayMs) => {
          planned.push(delayMs);
          const timer = setTimeout(run, delayMs);
          return () => clearTimeout(timer);
        },
      },
    });

    const error = await client.orders.create
      .mutate(input, { context: { idempotencyKey: key } })
      .catch((caught: unknown) => caught);

    expect(isIdempotencyError(error, 'IN_PROGRESS')).toBe(true);
    // It waited, although attempts: 1 allows no retry, and never planned past the budget.
    expect(planned.length).toBeGreaterThanOrEqual(1);
    expect(planned.reduce((sum, delayMs) => sum + delayMs, 0)).toBeLessThanOrEqual(400);
    expect(outcomesOf(rig.events, key).at(-1)).toBe('failed');
    await first;
    expect(rig.app.runsOf('ann', key)).toBe(1);
  });

  it("a duplicate of a handler that takes 8 s gets the first call's outcome with the default client options", async () => {
    const key = newKey('eight-seconds');
    const input = { item: 'piano', sleepMs: 8000 };
    // Two clients, so the second call cannot share the first one's attempt sequence: it must meet the server's 409.
    const [one, two] = [rig.client(), rig.client()];

    const first = mutateWithMeta(one.orders.create, input, { idempotencyKey: key });
    await waitForClaim(rig, key);
    const second = await mutateWithMeta(two.orders.create, input, { idempotencyKey: key });

    const original = await first;
    expect(original.replayed).toBe(false);
    expect(second.replayed).toBe(true);
    expect(second.data).toEqual(original.data);
    expect(second.data.createdAt).toBeInstanceOf(Date);
    expect(rig.app.runsOf('ann', key)).toBe(1);
    const events = rig.events.filter((event) => event.key === key);
    expect(events.some((event) => event.reason === 'in_progress')).toBe(true);
    expect(events.filter((event) => event.outcome === 'failed')).toEqual([]);
  }, 60_000);
});
