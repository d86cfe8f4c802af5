import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends, type OpenBackend } from '../support/backends.js';
import { type ClientRig, outcomesOf, recordingSchedule, startClientRig } from '../support/clientHarness.js';

describe.each(backends())('a lost response on $name', (backend) => {
  let open: OpenBackend;
  let rig: ClientRig;
  beforeAll(async () => {
    open = await backend.create();
    rig = await startClientRig({ store: open.store });
  });
  afterAll(async () => {
    await rig.close();
    await open.close();
  });

  it('retries with the same key after the server committed and the connection was reset, and gets the replay', async () => {
    const { schedule, planned } = recordingSchedule();
    const client = rig.client({ idempotency: { schedule, random: () => 0.5 } });
    rig.proxy.plan({ kind: 'reset-after-forward' });

    const result = await client.orders.create.mutate({ item: 'lamp', qty: 2 });

    const keyed = rig.proxy.requests.filter((request) => request.key !== undefined);
    expect(keyed).toHaveLength(2);
    const key = keyed[0]!.key!;
    expect(keyed.map((request) => request.key)).toEqual([key, key]);
    expect(keyed.map((request) => request.fault)).toEqual(['reset-after-forward', 'pass']);
    // The handler ran once; the second attempt got the stored outcome, types intact.
    expect(rig.app.runsOf('ann', key)).toBe(1);
    expect(rig.app.effects.events.filter((e) => e.key === key).map((e) => e.type)).toEqual([
      'claimed',
      'completed',
      'replayed',
    ]);
    expect(result.orderId).toBe(rig.app.effects.orders.find((order) => order.key === key)!.id);
    expect(result.createdAt).toBeInstanceOf(Date);
    expect(result.totalCents).toBe(3998n);
    expect(result.tags.get('item')).toBe('lamp');

    expect(outcomesOf(rig.events, key)).toEqual(['started', 'retrying', 'started', 'succeeded']);
    const [, retrying, , succeeded] = rig.events.filter((event) => event.key === key);
    expect(retrying).toMatchObject({ attempt: 1, reason: 'network', delayMs: 125 });
    expect(succeeded).toMatchObject({ attempt: 2, replayed: true });
    expect(planned.map((delay) => delay.delayMs)).toEqual([125]);
  });
});
