import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postMutation, startTestApp, type TestApp } from '../support/app.js';
import { backends, newKey, type OpenBackend } from '../support/backends.js';

// docs/protocol.md §2: a result is stored only once the handler began.
describe.each(backends())('a call refused before its handler began, on $name', (backend) => {
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

  const send = (path: string, input: unknown, key: string, extra: Record<string, string> = {}) =>
    postMutation(app.url, path, input, { 'x-user': 'ann', 'idempotency-key': key, ...extra });

  it('leaves the key unused when the input fails validation: the corrected input runs once', async () => {
    const key = newKey();
    const invalid = await send('orders.create', { item: 'book', qty: 1.5 }, key);
    expect(invalid.status).toBe(400);
    expect(invalid.error?.data.code).toBe('BAD_REQUEST');
    expect(invalid.error?.data.idempotency).toBeNull();
    expect(app.runsOf('ann', key)).toBe(0);

    // The same invalid input again is validated again, not replayed from a store.
    expect((await send('orders.create', { item: 'book', qty: 1.5 }, key)).status).toBe(400);

    const fixed = await send('orders.create', { item: 'book', qty: 2 }, key);
    expect(fixed.status).toBe(200);
    expect(fixed.headers.get('idempotent-replayed')).toBeNull();
    const again = await send('orders.create', { item: 'book', qty: 2 }, key);
    expect(again.status).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.data.orderId).toBe(fixed.data.orderId);
    expect(app.runsOf('ann', key)).toBe(1);

    // Now the key is bound to the input that ran.
    expect((await send('orders.create', { item: 'other', qty: 2 }, key)).error?.data.idempotency?.code).toBe(
      'PAYLOAD_MISMATCH',
    );
    const stored = app.effects.events.filter((event) => event.key === key && event.type === 'released');
    expect(stored.map((event) => event.handlerBegan)).toEqual([false, false]);
  });

  it('leaves the key unused when a middleware before the idempotency one refuses', async () => {
    const key = newKey();
    const refused = await send('orders.gatedFirst', { item: 'pen' }, key);
    expect(refused.status).toBe(403);
    expect(app.runsOf('ann', key)).toBe(0);

    const allowed = await send('orders.gatedFirst', { item: 'pen' }, key, { 'x-pass': 'yes' });
    expect(allowed.status).toBe(200);
    expect(allowed.data).toEqual({ item: 'pen' });
    const replayed = await send('orders.gatedFirst', { item: 'pen' }, key, { 'x-pass': 'yes' });
    expect(replayed.headers.get('idempotent-replayed')).toBe('true');
    expect(app.runsOf('ann', key)).toBe(1);
  });

  it('counts a middleware after the idempotency one as the handler: its 4xx is stored and replayed', async () => {
    // tRPC tells a middleware nothing of where the resolver starts, and the SDK writes nothing into tRPC's
    // procedures to learn it (docs/protocol.md §1c): only tRPC's input-validation failure is told apart.
    const key = newKey();
    const refused = await send('orders.gated', { item: 'pen' }, key);
    expect(refused.status).toBe(403);
    const again = await send('orders.gated', { item: 'pen' }, key, { 'x-pass': 'yes' });
    expect(again.status).toBe(403);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(app.runsOf('ann', key)).toBe(0);
  });

  it('runs a call that passes the gate after the idempotency middleware once, and replays it', async () => {
    const key = newKey();
    const allowed = await send('orders.gated', { item: 'pen' }, key, { 'x-pass': 'yes' });
    expect(allowed.status).toBe(200);
    expect(allowed.data).toEqual({ item: 'pen' });
    const replayed = await send('orders.gated', { item: 'pen' }, key, { 'x-pass': 'yes' });
    expect(replayed.headers.get('idempotent-replayed')).toBe('true');
    expect(app.runsOf('ann', key)).toBe(1);
  });

  it('still stores a 4xx the handler threw on purpose', async () => {
    const key = newKey();
    const declined = await send('orders.fail', { mode: 'bad_request' }, key);
    expect(declined.status).toBe(400);
    const replayed = await send('orders.fail', { mode: 'bad_request' }, key);
    expect(replayed.status).toBe(400);
    expect(replayed.error?.message).toBe('card declined');
    expect(replayed.headers.get('idempotent-replayed')).toBe('true');
    expect(app.runsOf('ann', key)).toBe(1);
  });

  it('runs the corrected input once when 20 invalid copies arrive at once', async () => {
    const key = newKey();
    const invalid = await Promise.all(
      Array.from({ length: 20 }, () => send('orders.create', { item: 'book', qty: 0.5 }, key)),
    );
    // Each copy is validated (400) or meets a copy that holds the lease for that moment (409): none is stored.
    for (const answer of invalid) expect([400, 409]).toContain(answer.status);
    expect(invalid.some((answer) => answer.status === 400)).toBe(true);
    const fixed = await Promise.all(
      Array.from({ length: 20 }, () => send('orders.create', { item: 'book', qty: 3 }, key)),
    );
    const ok = fixed.filter((answer) => answer.status === 200);
    for (const answer of fixed) expect([200, 409]).toContain(answer.status);
    expect(ok.length).toBeGreaterThan(0);
    expect(new Set(ok.map((answer) => answer.data.orderId)).size).toBe(1);
    expect(app.runsOf('ann', key)).toBe(1);
  });
});
