// The core suite of `npm run test:compat`: the guarantees of the README, against a real tRPC server, through
// the packed packages as a user installs them. Every case counts the handler's runs: that is what it asserts.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createIdempotentClient } from '@trpc-idempotency/client';
import { Money, startApp, transformer } from './app.mjs';
import { startDropProxy } from './dropProxy.mjs';
import { newKey, postMutation } from './http.mjs';

let app;
before(async () => {
  app = await startApp();
});
after(() => app.close());

const order = { item: 'book', qty: 2 };

test('a fresh call runs the handler once', async () => {
  const key = newKey('fresh');
  const first = await postMutation(app.url, 'orders.create', order, key);
  assert.equal(first.status, 200, JSON.stringify(first.error));
  assert.equal(first.replayed, null);
  assert.equal(first.data.item, 'book');
  assert.equal(app.runsOf(key), 1);
});

test('a replay returns the same data, Idempotent-Replayed: true, and does not run the handler', async () => {
  const key = newKey('replay');
  const first = await postMutation(app.url, 'orders.create', order, key);
  assert.equal(first.status, 200, JSON.stringify(first.error));
  const again = await postMutation(app.url, 'orders.create', order, key);
  assert.equal(again.status, 200, JSON.stringify(again.error));
  assert.equal(again.replayed, 'true');
  assert.deepEqual(again.data, first.data);
  assert.equal(app.runsOf(key), 1);
});

test('the same key with a different input answers 422 PAYLOAD_MISMATCH', async () => {
  const key = newKey('mismatch');
  const first = await postMutation(app.url, 'orders.create', order, key);
  assert.equal(first.status, 200, JSON.stringify(first.error));
  const other = await postMutation(app.url, 'orders.create', { item: 'pen', qty: 2 }, key);
  assert.equal(other.status, 422);
  assert.equal(other.error.data.code, 'UNPROCESSABLE_CONTENT');
  assert.equal(other.error.data.idempotency?.code, 'PAYLOAD_MISMATCH');
  assert.equal(app.runsOf(key), 1);
});

test('an input that fails validation leaves the key unused', async () => {
  const key = newKey('validation');
  const invalid = await postMutation(app.url, 'orders.create', { item: 'book', qty: -1 }, key);
  assert.equal(invalid.status, 400);
  assert.equal(invalid.error.data.code, 'BAD_REQUEST');
  assert.equal(invalid.error.data.idempotency ?? null, null, 'a validation error is not an idempotency error');
  assert.equal(app.runsOf(key), 0);

  const corrected = await postMutation(app.url, 'orders.create', order, key);
  assert.equal(corrected.status, 200, JSON.stringify(corrected.error));
  assert.equal(corrected.replayed, null, 'the corrected input is a fresh call, not a replay of the 400');
  assert.equal(app.runsOf(key), 1);
  const again = await postMutation(app.url, 'orders.create', order, key);
  assert.equal(again.replayed, 'true');
  assert.equal(app.runsOf(key), 1);
});

test('an app-registered superjson type survives a replay', async () => {
  const key = newKey('superjson');
  const input = { item: 'book', qty: 3, price: new Money(1999, 'EUR') };
  const first = await postMutation(app.url, 'orders.create', input, key);
  assert.equal(first.status, 200, JSON.stringify(first.error));
  const again = await postMutation(app.url, 'orders.create', input, key);
  assert.equal(again.replayed, 'true');
  for (const { data } of [first, again]) {
    assert.ok(data.total instanceof Money, `total is ${data.total?.constructor?.name}`);
    assert.deepEqual({ ...data.total }, { cents: 5997, currency: 'EUR' });
    assert.ok(data.createdAt instanceof Date);
    assert.equal(data.createdAt.toISOString(), '2026-01-02T03:04:05.000Z');
    assert.ok(data.tags instanceof Map);
    assert.equal(data.tags.get('item'), 'book');
    assert.equal(data.big, 2n ** 70n);
  }
  assert.equal(app.runsOf(key), 1);
});

test('50 concurrent duplicates with one key run the handler once', async () => {
  const key = newKey('concurrent');
  const input = { ...order, sleepMs: 100 };
  const answers = await Promise.all(
    Array.from({ length: 50 }, () => postMutation(app.url, 'orders.create', input, key)),
  );
  const ok = answers.filter((a) => a.status === 200);
  const inProgress = answers.filter((a) => a.status === 409);
  assert.equal(ok.length + inProgress.length, 50, `statuses: ${answers.map((a) => a.status).join(',')}`);
  assert.ok(ok.length >= 1);
  for (const a of inProgress) assert.equal(a.error.data.idempotency?.code, 'IN_PROGRESS');
  for (const a of ok) assert.deepEqual(a.data, ok[0].data);
  assert.equal(app.runsOf(key), 1);
  const later = await postMutation(app.url, 'orders.create', input, key);
  assert.equal(later.replayed, 'true');
  assert.deepEqual(later.data, ok[0].data);
  assert.equal(app.runsOf(key), 1);
});

test('50 concurrent duplicates that wait for the first outcome all get it, handler run once', async () => {
  const key = newKey('concurrent-wait');
  const input = { ...order, sleepMs: 100 };
  const answers = await Promise.all(
    Array.from({ length: 50 }, () => postMutation(app.url, 'orders.createWaiting', input, key)),
  );
  assert.deepEqual(
    answers.map((a) => a.status),
    Array(50).fill(200),
  );
  assert.equal(answers.filter((a) => a.replayed === null).length, 1, 'one fresh answer, the rest replays');
  for (const a of answers) assert.deepEqual(a.data, answers[0].data);
  assert.equal(app.runsOf(key), 1);
});

test("the SDK's client recovers a dropped answer, handler run once", async () => {
  const proxy = await startDropProxy(app.url);
  try {
    const client = createIdempotentClient({
      url: proxy.url,
      transformer,
      headers: { 'x-user': 'alice' },
      idempotency: { baseDelayMs: 10, maxDelayMs: 50 },
    });
    const result = await client.orders.create.mutate({ item: 'lamp', qty: 1, price: new Money(500, 'USD') });
    assert.equal(result.item, 'lamp');
    assert.ok(result.total instanceof Money);
    const keyed = proxy.seen.filter((s) => s.key !== undefined);
    assert.deepEqual(
      keyed.map((s) => s.end),
      ['dropped', 'sent'],
    );
    assert.equal(keyed[1].key, keyed[0].key, 'the retry carries the same key');
    assert.equal(app.runsOf(keyed[0].key), 1);
  } finally {
    await proxy.close();
  }
});
