import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postMutation, startTestApp, type TestApp } from '../support/app.js';
import { backends, newKey, type OpenBackend } from '../support/backends.js';

// docs/protocol.md §2: a renewal keeps the record alive at least as long as the lease, so the fence
// never goes back while a holder may still run.
describe.each(backends())('a handler that outlives retentionMs, on $name', (backend) => {
  let open: OpenBackend;
  let app: TestApp;
  beforeAll(async () => {
    open = await backend.create();
    app = await startTestApp({ store: open.store, leaseMs: 100, retentionMs: 200 });
  });
  afterAll(async () => {
    await app.close();
    await open.close();
  });

  it('keeps its record, so the next holder gets a higher fence', async () => {
    const key = newKey();
    const headers = { 'x-user': 'ann', 'idempotency-key': key };
    // 700 ms, past the 200 ms retention; the 500 releases the lease, so a retry runs again.
    const first = await postMutation(app.url, 'orders.fail', { mode: 'internal', sleepMs: 700 }, headers);
    expect(first.status).toBe(500);
    const retry = await postMutation(app.url, 'orders.fail', { mode: 'internal', sleepMs: 700 }, headers);
    expect(retry.status).toBe(500);
    expect(app.effects.fences.get(key)).toEqual([1, 2]);
    const released = app.effects.events.filter((event) => event.key === key && event.type === 'released');
    expect(released).toHaveLength(2);
  });
});
