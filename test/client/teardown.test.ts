import { httpLink, type Operation } from '@trpc/client';
import { type AttemptEvent, idempotencyHeaders, idempotencyLink } from '@trpc-idempotency/client';
import superjson from 'superjson';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestRouter } from '../support/app.js';
import { type ClientRig, startClientRig } from '../support/clientHarness.js';

describe('the bare link in a tRPC chain', () => {
  let rig: ClientRig;
  beforeAll(async () => {
    rig = await startClientRig();
  });
  afterAll(async () => {
    await rig.close();
  });

  const mutation = (input: unknown, context: Operation['context'] = {}): Operation => ({
    id: 1,
    type: 'mutation',
    path: 'orders.create',
    input,
    context,
    signal: null,
  });

  function chain(events: AttemptEvent[]) {
    const link = idempotencyLink<TestRouter>({ onAttempt: (event) => events.push(event) })({});
    const terminating = httpLink<TestRouter>({
      url: rig.proxy.url,
      transformer: superjson,
      headers: ({ op }) => ({ ...idempotencyHeaders(op), 'x-user': 'ann' }),
    })({});
    return (op: Operation) =>
      link({
        op,
        next: (keyed) => terminating({ op: keyed, next: () => Promise.reject(new Error('terminating link')) as never }),
      });
  }

  it('tears down by aborting the attempt in flight, and sends nothing after', async () => {
    const events: AttemptEvent[] = [];
    rig.proxy.plan({ kind: 'delay-response', ms: 300 });
    const before = rig.proxy.requests.length;
    const outcome: string[] = [];

    const subscription = chain(events)(mutation({ item: 'teardown' })).subscribe({
      next: () => outcome.push('next'),
      error: () => outcome.push('error'),
      complete: () => outcome.push('complete'),
    });
    await rig.proxy.waitForRequests(before + 1);
    subscription.unsubscribe();
    await rig.proxy.waitForDone(before + 1);
    await new Promise((resolve) => setImmediate(resolve));

    expect(rig.proxy.requests.slice(before).map((request) => request.end)).toEqual(['client-gone']);
    expect(outcome).toEqual([]);
    expect(events.map((event) => event.outcome)).toEqual(['started', 'aborted']);
  });

  it("sets the key in a copy of the caller's context, so a reused context object never carries it to another call", async () => {
    const events: AttemptEvent[] = [];
    const shared: Operation['context'] = {};
    const run = (input: unknown) =>
      new Promise((resolve, reject) =>
        chain(events)(mutation(input, shared)).subscribe({ next: resolve, error: reject }),
      );

    await run({ item: 'one' });
    await run({ item: 'two' });

    expect(shared).toEqual({});
    const [first, second] = rig.proxy.requests.slice(-2);
    expect(first!.key).toBeDefined();
    expect(second!.key).toBeDefined();
    expect(first!.key).not.toBe(second!.key);
  });
});
