import { isIdempotencyError } from '@trpc-idempotency/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postMutation } from '../support/app.js';
import { newKey } from '../support/backends.js';
import {
  type ClientRig,
  outcomesOf,
  recordingSchedule,
  startClientRig,
  waitForClaim,
} from '../support/clientHarness.js';

describe('which answers are retried', () => {
  let rig: ClientRig;
  beforeAll(async () => {
    rig = await startClientRig();
  });
  afterAll(async () => {
    await rig.close();
  });

  it("waits out a 409 IN_PROGRESS by the server's retryAfterMs until the first request stores its result, then gets that result", async () => {
    const key = newKey('busy');
    const input = { item: 'sofa', sleepMs: 400 };
    const first = postMutation(rig.app.url, 'orders.create', input, { 'idempotency-key': key, 'x-user': 'ann' });
    await waitForClaim(rig, key);
    // Real waits: the retries must outlast a handler that really runs for 400 ms. attempts: 1 allows no
    // retry of any other failure; IN_PROGRESS answers are bounded by the wait budget instead.
    const client = rig.client({ idempotency: { jitter: 'none', attempts: 1 } });

    const result = await client.orders.create.mutate(input, { context: { idempotencyKey: key } });

    const firstAnswer = await first;
    expect(result.orderId).toBe(firstAnswer.data.orderId);
    expect(rig.app.runsOf('ann', key)).toBe(1);
    const events = rig.events.filter((event) => event.key === key);
    const retries = events.filter((event) => event.outcome === 'retrying');
    expect(retries.length).toBeGreaterThanOrEqual(1);
    for (const retry of retries) {
      expect(retry).toMatchObject({ reason: 'in_progress', status: 409 });
      if (!isIdempotencyError(retry.error, 'IN_PROGRESS')) throw new Error('expected the SDK IN_PROGRESS error');
      // The server's hint says when to ask again; the client asks then, no sooner and no later.
      expect(retry.delayMs).toBe(retry.error.data.idempotency.retryAfterMs);
    }
    expect(events.at(-1)).toMatchObject({ outcome: 'succeeded', replayed: true });
  }, 60_000);

  it('does not retry a 422 PAYLOAD_MISMATCH and rejects with the typed error', async () => {
    const key = newKey('mismatch');
    await postMutation(rig.app.url, 'orders.create', { item: 'sofa' }, { 'idempotency-key': key, 'x-user': 'ann' });
    const { schedule, planned } = recordingSchedule();
    const client = rig.client({ idempotency: { schedule } });

    const error = await client.orders.create
      .mutate({ item: 'table' }, { context: { idempotencyKey: key } })
      .catch((caught: unknown) => caught);

    expect(isIdempotencyError(error, 'PAYLOAD_MISMATCH')).toBe(true);
    expect(isIdempotencyError(error, 'IN_PROGRESS')).toBe(false);
    if (!isIdempotencyError(error)) throw new Error('unreachable');
    expect(error.data.httpStatus).toBe(422);
    expect(error.data.idempotency.code).toBe('PAYLOAD_MISMATCH');
    expect(rig.proxy.requests.filter((request) => request.key === key)).toHaveLength(1);
    expect(planned).toEqual([]);
    expect(outcomesOf(rig.events, key)).toEqual(['started', 'failed']);
    expect(rig.events.at(-1)).toMatchObject({ reason: 'payload_mismatch', status: 422 });
    expect(rig.app.runsOf('ann', key)).toBe(1);
  });

  it("does not retry a 400 from the handler; the error is the app's, not the SDK's", async () => {
    const { schedule, planned } = recordingSchedule();
    const client = rig.client({ idempotency: { schedule } });
    const before = rig.proxy.requests.length;

    const error = await client.orders.fail.mutate({ mode: 'bad_request' }).catch((caught: unknown) => caught);

    expect(error).toMatchObject({ name: 'TRPCClientError', message: 'card declined' });
    expect((error as { data: { code: string; httpStatus: number } }).data).toMatchObject({
      code: 'BAD_REQUEST',
      httpStatus: 400,
    });
    expect(isIdempotencyError(error)).toBe(false);
    expect(rig.proxy.requests.length - before).toBe(1);
    expect(planned).toEqual([]);
    expect(rig.events.at(-1)).toMatchObject({ outcome: 'failed', reason: 'client_error', status: 400 });
  });

  it('retries a 500 from the handler, which released its lease, with the same key', async () => {
    const { schedule } = recordingSchedule();
    const client = rig.client({ idempotency: { schedule, attempts: 3 } });

    const error = await client.orders.fail.mutate({ mode: 'internal' }).catch((caught: unknown) => caught);

    expect(error).toMatchObject({ data: { code: 'INTERNAL_SERVER_ERROR', httpStatus: 500 } });
    const key = rig.proxy.requests.at(-1)!.key!;
    expect(rig.proxy.requests.filter((request) => request.key === key)).toHaveLength(3);
    expect(rig.app.runsOf('ann', key)).toBe(3);
  });

  it('rejects bad per-call settings before sending anything, naming them', async () => {
    const client = rig.client();
    const before = rig.proxy.requests.length;

    const error = await client.orders.create
      .mutate({ item: 'x' }, { context: { idempotency: { attempts: 0 } } })
      .catch((caught: unknown) => caught);

    expect(error).toMatchObject({ name: 'TRPCClientError', message: expect.stringContaining('context.idempotency') });
    expect((error as Error).message).toContain('"attempts"');
    expect((error as Error).cause).toBeInstanceOf(TypeError);
    expect(rig.proxy.requests.length).toBe(before);
  });

  it('rejects a bad caller key before sending anything', async () => {
    const client = rig.client();
    const before = rig.proxy.requests.length;

    const error = await client.orders.create
      .mutate({ item: 'x' }, { context: { idempotencyKey: 'has space' } })
      .catch((caught: unknown) => caught);

    expect(error).toMatchObject({ name: 'TRPCClientError', message: expect.stringContaining('idempotencyKey') });
    expect((error as Error).cause).toBeInstanceOf(TypeError);
    expect(rig.proxy.requests.length).toBe(before);
  });
});
