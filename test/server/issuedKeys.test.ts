import { createIdempotency, createKeyIssuer, MemoryStore } from '@trpc-idempotency/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postMutation, startTestApp, type TestApp } from '../support/app.js';

const SECRET = 'test-secret-of-at-least-thirty-two-bytes!';
const scope = (ctx: { user?: string }) => ctx.user;

/** Asks the test app's key-issuing query for a key, as the given user. */
async function issueKey(app: TestApp, user: string): Promise<{ key: string; expiresAt: number }> {
  const response = await fetch(`${app.url}/idempotencyKey`, { headers: { 'x-user': user } });
  expect(response.status).toBe(200);
  return ((await response.json()) as any).result.data.json;
}

const pay = (app: TestApp, user: string, key: string, item = 'lamp') =>
  postMutation(app.url, 'orders.create', { item }, { 'idempotency-key': key, 'x-user': user });

describe('server-issued keys', () => {
  let app: TestApp;
  let shortLived: TestApp;
  beforeAll(async () => {
    [app, shortLived] = await Promise.all([
      startTestApp({ store: new MemoryStore(), issuedKeys: createKeyIssuer({ secret: SECRET, scope }) }),
      startTestApp({ store: new MemoryStore(), issuedKeys: createKeyIssuer({ secret: SECRET, scope, ttlMs: 1000 }) }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([app.close(), shortLived.close()]);
  });

  it('issues a random, expiring key that runs the handler once and replays it to every retry', async () => {
    const [first, second] = [await issueKey(app, 'ann'), await issueKey(app, 'ann')];
    expect(first.key).not.toBe(second.key);
    expect(first.key).toMatch(/^ik1\.[0-9a-z]+\.[\w-]{22}\.[\w-]{43}$/);
    expect(first.expiresAt).toBeGreaterThan(Date.now() + 23 * 60 * 60 * 1000);

    const answers = [await pay(app, 'ann', first.key), await pay(app, 'ann', first.key)];
    expect(answers.map((answer) => answer.status)).toEqual([200, 200]);
    expect(answers[1]!.headers.get('idempotent-replayed')).toBe('true');
    expect(answers[1]!.data.orderId).toBe(answers[0]!.data.orderId);
    expect(app.runsOf('ann', first.key)).toBe(1);
  });

  it('refuses a key it did not issue and a forged one with 400 KEY_INVALID and a reason, running nothing', async () => {
    const before = app.effects.orders.length;
    const { key } = await issueKey(app, 'ann');
    // The same shape, one character of the signature changed.
    const last = key.at(-1) === 'A' ? 'B' : 'A';
    const forged = `${key.slice(0, -1)}${last}`;
    // A later expiry with the old signature: the expiry is signed too.
    const [, expiry] = key.split('.');
    const extended = key.replace(`.${expiry}.`, `.${(Number.parseInt(expiry!, 36) + 1).toString(36)}.`);

    const answers = await Promise.all([
      pay(app, 'ann', 'a-uuid-the-client-made-up'),
      pay(app, 'ann', forged),
      pay(app, 'ann', extended),
    ]);
    expect(answers.map((answer) => [answer.status, answer.error?.data.idempotency])).toEqual([
      [400, { code: 'KEY_INVALID', reason: 'not_issued' }],
      [400, { code: 'KEY_INVALID', reason: 'signature' }],
      [400, { code: 'KEY_INVALID', reason: 'signature' }],
    ]);
    expect(app.effects.orders.length).toBe(before);
  });

  it('refuses a key leaked to another user, before and after its owner used it', async () => {
    const { key } = await issueKey(app, 'ann');
    const stolen = await pay(app, 'bob', key);
    expect(stolen.status).toBe(400);
    expect(stolen.error?.data.idempotency).toEqual({ code: 'KEY_INVALID', reason: 'signature' });

    expect((await pay(app, 'ann', key)).status).toBe(200);
    const afterUse = await pay(app, 'bob', key);
    expect(afterUse.status).toBe(400);
    expect(afterUse.data).toBeUndefined();
    expect(app.runsOf('ann', key)).toBe(1);
    expect(app.runsOf('bob', key)).toBe(0);
  });

  it('refuses an expired key', async () => {
    const { key, expiresAt } = await issueKey(shortLived, 'ann');
    // Waits out the 1 s expiry: the expiry itself is what is tested, not how long anything takes.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, expiresAt - Date.now()) + 50));
    const answer = await pay(shortLived, 'ann', key);
    expect(answer.status).toBe(400);
    expect(answer.error?.data.idempotency).toEqual({ code: 'KEY_INVALID', reason: 'expired' });
    expect(shortLived.runsOf('ann', key)).toBe(0);
  });

  it('issues keys only to a known caller', async () => {
    const response = await fetch(`${app.url}/idempotencyKey`);
    expect(response.status).toBe(401);
  });

  it('names a bad option', () => {
    expect(() => createKeyIssuer({ secret: 'short', scope })).toThrow(/"secret"/);
    expect(() => createKeyIssuer({ secret: SECRET, scope: 'everyone' as never })).toThrow(/"scope"/);
    expect(() => createKeyIssuer({ secret: SECRET, scope, ttlMs: 10 })).toThrow(/"ttlMs"/);
    expect(() =>
      createIdempotency({
        store: new MemoryStore(),
        scope: 'global',
        serializer: 'json',
        issuedKeys: { verify: 'no' } as never,
      }),
    ).toThrow(/"issuedKeys"/);
  });
});

describe('server-issued keys, one spelling', () => {
  it('refuses the other base64url spellings of a signature (its last character carries 2 unused bits)', async () => {
    const app = await startTestApp({
      store: new MemoryStore(),
      issuedKeys: createKeyIssuer({ secret: SECRET, scope }),
    });
    try {
      for (let attempt = 0; attempt < 4; attempt++) {
        const { key } = await issueKey(app, 'ann');
        const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
        const last = alphabet.indexOf(key.at(-1)!);
        // Same 6-bit group but for the two low bits: decodes to the same bytes.
        const sameBytes = alphabet[(last & ~3) | ((last + 1) & 3)]!;
        const answer = await pay(app, 'ann', `${key.slice(0, -1)}${sameBytes}`);
        expect(answer.status).toBe(400);
        expect(answer.error?.data.idempotency).toEqual({ code: 'KEY_INVALID', reason: 'signature' });
      }
      expect(app.effects.orders.length).toBe(0);
    } finally {
      await app.close();
    }
  });
});
