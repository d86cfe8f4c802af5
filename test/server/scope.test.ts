import { MemoryStore } from '@trpc-idempotency/server';
import { afterAll, describe, expect, it } from 'vitest';
import { type Context, postMutation, startTestApp, type TestApp } from '../support/app.js';
import { newKey } from '../support/backends.js';

// The scope names whose key it is (docs/protocol.md): answered at once or looked up asynchronously.
describe('the scope of a key', () => {
  const apps: TestApp[] = [];
  afterAll(async () => {
    await Promise.all(apps.map((app) => app.close()));
  });
  const start = async (scope: (ctx: Context) => unknown) => {
    const app = await startTestApp({ store: new MemoryStore(), scope: scope as (ctx: Context) => string });
    apps.push(app);
    return app;
  };
  const order = (app: TestApp, user: string | undefined, key: string) =>
    postMutation(
      app.url,
      'orders.create',
      { item: 'lamp' },
      { 'idempotency-key': key, ...(user ? { 'x-user': user } : {}) },
    );

  const lookups: Array<[string, (ctx: Context) => unknown]> = [
    ['a function that answers at once', (ctx) => ctx.user],
    ['an async lookup', async (ctx) => ctx.user],
    [
      'a thenable that is not a native promise',
      // biome-ignore lint/suspicious/noThenProperty: a thenable on purpose, as another promise library makes.
      (ctx) => ({ then: (resolve: (v: unknown) => void) => resolve(ctx.user) }),
    ],
  ];

  it.each(lookups)(
    'with %s: one run per scope and key, and one scope never sees another’s outcome',
    async (_n, scope) => {
      const app = await start(scope);
      const key = newKey();
      const ann = await order(app, 'ann', key);
      const annAgain = await order(app, 'ann', key);
      const bob = await order(app, 'bob', key);
      expect(ann.status).toBe(200);
      expect(annAgain.headers.get('idempotent-replayed')).toBe('true');
      expect(annAgain.data).toEqual(ann.data);
      expect(bob.headers.get('idempotent-replayed')).toBeNull();
      expect(bob.data.user).toBe('bob');
      expect(app.runsOf('ann', key)).toBe(1);
      expect(app.runsOf('bob', key)).toBe(1);
    },
  );

  it.each(lookups)('with %s: an unknown caller gets 401 and nothing runs', async (_n, scope) => {
    const app = await start(scope);
    const key = newKey();
    const answer = await order(app, undefined, key);
    expect(answer.status).toBe(401);
    expect(answer.error?.data.code).toBe('UNAUTHORIZED');
    expect(app.runsOf(undefined, key)).toBe(0);
  });
});
