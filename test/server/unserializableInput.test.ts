import { MemoryStore } from '@trpc-idempotency/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { newKey } from '../support/backends.js';

// Regression for the hostile-input reliability scenario (test/reliability/hostileInput.test.ts):
// an input holding a key such as "prototype" passes tRPC's superjson parsing, but superjson refuses
// to serialize it again, and fingerprinting it answered 500. The body is written by hand because
// superjson on the client refuses to write it too.
async function send(app: TestApp, key: string, input: unknown) {
  const response = await fetch(`${app.url}/orders.create`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': key, 'x-user': 'ann' },
    body: JSON.stringify({ json: input }),
  });
  return {
    status: response.status,
    replayed: response.headers.get('idempotent-replayed'),
    body: await response.json(),
  };
}

describe('an input that the serializer refuses to write', () => {
  const store = new MemoryStore();
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ store });
  });
  afterAll(async () => {
    await app.close();
    store.close();
  });

  it.each(['prototype', 'constructor'])('with a "%s" key runs once and is replayed, never a 500', async (name) => {
    const key = newKey();
    const input = { item: 'book', extra: { [name]: 'x' } };
    const first = await send(app, key, input);
    expect(first.status).toBe(200);
    const retry = await send(app, key, input);
    expect(retry.status).toBe(200);
    expect(retry.replayed).toBe('true');
    expect(retry.body.result.data.json.orderId).toBe(first.body.result.data.json.orderId);
    expect(app.runsOf('ann', key)).toBe(1);

    const other = await send(app, key, { item: 'book', extra: { [name]: 'y' } });
    expect(other.status).toBe(422);
  });
});
