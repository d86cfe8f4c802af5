import { isIdempotencyError, type OnlineSource } from '@trpc-idempotency/client';
import { createKeyIssuer } from '@trpc-idempotency/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClientRig, outcomesOf, recordingSchedule, startClientRig } from '../support/clientHarness.js';

const SECRET = 'client-test-secret-of-at-least-32-bytes';

describe("the 'server' key strategy", () => {
  let rig: ClientRig;
  beforeAll(async () => {
    rig = await startClientRig({ issuedKeys: createKeyIssuer({ secret: SECRET, scope: (ctx) => ctx.user }) });
  });
  afterAll(async () => {
    await rig.close();
  });

  it('asks the server once for a key and sends it on every attempt', async () => {
    const client = rig.client({ idempotency: { key: 'server', schedule: recordingSchedule().schedule } });
    const before = rig.proxy.requests.length;
    rig.proxy.plan({ kind: 'reset-after-forward' });

    const order = await client.orders.create.mutate({ item: 'issued' });

    const seen = rig.proxy.requests.slice(before);
    expect(seen.filter((request) => request.paths.includes('idempotencyKey'))).toHaveLength(1);
    const keyed = seen.filter((request) => request.key !== undefined);
    expect(keyed).toHaveLength(2);
    expect(keyed[1]!.key).toBe(keyed[0]!.key);
    expect(keyed[0]!.key).toMatch(/^ik1\./);
    expect(rig.app.runsOf('ann', keyed[0]!.key!)).toBe(1);
    expect(order.user).toBe('ann');
  });

  it('gets 400 KEY_INVALID (not_issued), once, for a key the server did not issue', async () => {
    const client = rig.client();
    const before = rig.proxy.requests.length;
    const error = await client.orders.create.mutate({ item: 'made up' }).catch((caught: unknown) => caught);
    expect(isIdempotencyError(error, 'KEY_INVALID')).toBe(true);
    expect((error as { data: { idempotency: { reason: string } } }).data.idempotency.reason).toBe('not_issued');
    expect(rig.proxy.requests.length - before).toBe(1);
  });
});

/**
 * Node has no `navigator.onLine`, so the network's presence comes from this switch. The requests and
 * failures are real; only the browser's online flag is stood in for.
 */
function onlineSwitch(initially: boolean): OnlineSource & { set(online: boolean): void } {
  let online = initially;
  const listeners = new Set<() => void>();
  return {
    isOnline: () => online,
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    set(value) {
      online = value;
      for (const listener of [...listeners]) listener();
    },
  };
}

describe('while the network is gone', () => {
  let rig: ClientRig;
  beforeAll(async () => {
    rig = await startClientRig();
  });
  afterAll(async () => {
    await rig.close();
  });

  it('sends nothing until the network is back, then sends the call', async () => {
    const network = onlineSwitch(false);
    const client = rig.client({ idempotency: { online: network } });
    const before = rig.proxy.requests.length;
    const call = client.orders.create.mutate({ item: 'offline first' });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(rig.proxy.requests.length).toBe(before);
    network.set(true);
    await call;
    expect(rig.proxy.requests.length).toBe(before + 1);
  });

  it('does not use up an attempt on a failure while offline, and resumes with the same key', async () => {
    const network = onlineSwitch(true);
    const client = rig.client({ idempotency: { online: network, attempts: 1 } });
    const before = rig.proxy.requests.length;
    // The response is lost, and the network goes with it.
    rig.proxy.plan({ kind: 'reset-after-forward' });
    rig.proxy.events.once('done', () => network.set(false));
    const call = client.orders.create.mutate({ item: 'train tunnel' });
    await rig.proxy.waitForDone(before + 1);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(rig.proxy.requests.length).toBe(before + 1);
    network.set(true);
    const order = await call;

    const [first, second] = rig.proxy.requests.slice(before);
    expect(second!.key).toBe(first!.key);
    expect(rig.app.runsOf('ann', first!.key!)).toBe(1);
    expect(order.orderId).toBeGreaterThan(0);
    expect(outcomesOf(rig.events, first!.key!)).toEqual(['started', 'retrying', 'started', 'succeeded']);
    expect(rig.events.find((event) => event.key === first!.key && event.outcome === 'retrying')?.reason).toBe(
      'offline',
    );
  });

  it('with pauseWhileOffline: false, counts such a failure like any other', async () => {
    const network = onlineSwitch(true);
    const client = rig.client({ idempotency: { online: network, pauseWhileOffline: false, attempts: 1 } });
    rig.proxy.plan({ kind: 'reset-after-forward' });
    rig.proxy.events.once('done', () => network.set(false));
    await expect(client.orders.create.mutate({ item: 'no pause' })).rejects.toThrow();
  });
});
