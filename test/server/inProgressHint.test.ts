import { inProgressRetryAfterMs } from '@trpc-idempotency/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postMutation, startTestApp, type TestApp } from '../support/app.js';
import { backends, newKey, type OpenBackend } from '../support/backends.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// docs/protocol.md §3: the retryAfterMs of IN_PROGRESS says when to ask again.
describe('inProgressRetryAfterMs', () => {
  it.each([
    [{ leaseRemainingMs: 29_990, heldForMs: 10 }, 100],
    [{ leaseRemainingMs: 29_000, heldForMs: 1000 }, 500],
    [{ leaseRemainingMs: 22_000, heldForMs: 8000 }, 2000],
    [{ leaseRemainingMs: 40, heldForMs: 29_960 }, 40],
    [{ leaseRemainingMs: 0.2, heldForMs: 30_000 }, 1],
  ])('asks %o to come back after %i ms', (lease, expected) => {
    expect(inProgressRetryAfterMs(lease)).toBe(expected);
  });
});

describe.each(backends())('the 409 IN_PROGRESS hint, on $name', (backend) => {
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

  it('is short while the first call is young and grows as it runs, far below the 30 s lease', async () => {
    const key = newKey();
    const headers = { 'x-user': 'ann', 'idempotency-key': key };
    const input = { item: 'slow', sleepMs: 1500 };
    const first = postMutation(app.url, 'orders.create', input, headers);
    while (!app.effects.starts.has(key)) await sleep(5);
    const early = await postMutation(app.url, 'orders.create', input, headers);
    await sleep(1000);
    const later = await postMutation(app.url, 'orders.create', input, headers);
    expect(early.status).toBe(409);
    expect(later.status).toBe(409);
    const hint = (answer: typeof early) => answer.error!.data.idempotency.retryAfterMs as number;
    expect(hint(early)).toBeGreaterThanOrEqual(100);
    expect(hint(early)).toBeLessThan(hint(later));
    expect(hint(later)).toBeLessThanOrEqual(2000);
    expect(later.headers.get('retry-after')).toBe('1');
    expect((await first).status).toBe(200);
    expect(app.runsOf('ann', key)).toBe(1);
  });
});
