import type { AnyRouter } from '@trpc/server';
import { createIdempotentClient, type IdempotencyLinkOptions } from '@trpc-idempotency/client';
import { IDEMPOTENCY_KEY_HEADER, IDEMPOTENT_REPLAYED_HEADER } from '@trpc-idempotency/protocol';
import { callerIdempotencyContext } from '@trpc-idempotency/server';
import superjson, { SuperJSON } from 'superjson';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRouter, Money, postMutation, type SideEffects, serve, type TestRouter } from '../support/app.js';
import { backends, newKey, type OpenBackend } from '../support/backends.js';
import { type FaultProxy, startFaultProxy } from '../support/faultProxy.js';

// docs/protocol.md §1c: nothing of tRPC's is written to. The router, every procedure and its `_def`
// (middlewares, inputs...) and the root config are deep-frozen before serving; a write by the SDK to any of
// them throws (this file is an ES module, so strict), and the call it happened in fails.

/** Plain objects and arrays: tRPC's own data. Class instances (zod schemas, a SuperJSON) belong to others. */
function isPlainData(value: object): boolean {
  if (Array.isArray(value)) return true;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/** A class is someone else's type (superjson's, say), not data of tRPC's; its statics are left alone. */
function isClass(value: unknown): boolean {
  return typeof value === 'function' && /^class\b/.test(Function.prototype.toString.call(value));
}

/**
 * Freezes `root` and every plain object, array and function (procedures, middlewares, resolvers, the
 * error formatter) reachable from it through own data properties, and returns what it froze. Class
 * instances (zod schemas, a SuperJSON) and classes belong to other libraries and are left as they are, and
 * a function's `prototype` is not followed.
 */
function deepFreeze(root: object): Set<object> {
  const frozen = new Set<object>();
  const visit = (value: unknown) => {
    if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return;
    if (frozen.has(value)) return;
    if (typeof value === 'function' ? isClass(value) : !isPlainData(value)) return;
    frozen.add(value);
    for (const name of Reflect.ownKeys(value)) {
      if (typeof value === 'function' && name === 'prototype') continue;
      const property = Object.getOwnPropertyDescriptor(value, name)!;
      if ('value' in property) visit(property.value);
    }
    Object.freeze(value);
  };
  // The router object itself is frozen whatever its prototype.
  frozen.add(root);
  for (const name of Reflect.ownKeys(root)) {
    const property = Object.getOwnPropertyDescriptor(root, name)!;
    if ('value' in property) visit(property.value);
  }
  Object.freeze(root);
  return frozen;
}

/** The procedures of a router by path, from its `_def`. */
function proceduresOf(router: AnyRouter): Array<[string, { _def: Record<string, unknown> }]> {
  return Object.entries(router._def.procedures as Record<string, { _def: Record<string, unknown> }>);
}

/** The app's own superjson, with a class registered on it that the default export does not know. */
const appJson = new SuperJSON();
appJson.registerClass(Money, 'Money');
const transformer = appJson as unknown as typeof superjson;

const immediate: NonNullable<IdempotencyLinkOptions['schedule']> = (run) => {
  const timer = setImmediate(run);
  return () => clearImmediate(timer);
};

const FROZEN_BACKENDS = new Set(['MemoryStore', 'Redis single node', 'PostgreSQL']);

describe.each(backends().filter((backend) => FROZEN_BACKENDS.has(backend.name)))(
  'a deep-frozen tRPC router, on $name',
  (backend) => {
    let open: OpenBackend;
    let router: TestRouter;
    let frozen: Set<object>;
    let url: string;
    let closeServer: () => Promise<void>;
    let proxy: FaultProxy;
    const effects: SideEffects = {
      runs: new Map(),
      orders: [],
      fences: new Map(),
      starts: new Map(),
      aborts: new Map(),
      events: [],
    };
    const runsOf = (key: string) => effects.runs.get(`ann/${key}`) ?? 0;
    const eventsOf = (key: string) => effects.events.filter((event) => event.key === key).map((event) => event.type);
    const send = (path: string, input: unknown, key: string) =>
      postMutation(url, path, input, { 'x-user': 'ann', [IDEMPOTENCY_KEY_HEADER]: key }, transformer);

    beforeAll(async () => {
      open = await backend.create();
      router = buildRouter({ store: open.store, transformer: appJson }, effects);
      // Frozen before the server ever sees it.
      frozen = deepFreeze(router);
      const served = await serve(router);
      url = served.url;
      closeServer = served.close;
      proxy = await startFaultProxy(url);
    });
    afterAll(async () => {
      await proxy?.close();
      await closeServer?.();
      await open?.close();
    });

    it('is frozen, and the freeze bites: writes to the router, a _def, its middlewares or the config throw', () => {
      // Strict mode, where a write to a frozen object throws rather than being ignored.
      expect(
        (function (this: unknown) {
          return this;
        })(),
      ).toBeUndefined();
      const procedures = proceduresOf(router);
      expect(procedures.map(([path]) => path)).toContain('orders.create');
      for (const [path, procedure] of procedures) {
        expect([path, Object.isFrozen(procedure)]).toEqual([path, true]);
        expect([path, Object.isFrozen(procedure._def)]).toEqual([path, true]);
        expect([path, Object.isFrozen(procedure._def.middlewares)]).toEqual([path, true]);
        expect([path, Object.isFrozen(procedure._def.inputs)]).toEqual([path, true]);
        // The idempotency middleware and tRPC's own input middlewares among them.
        for (const middleware of procedure._def.middlewares as unknown[]) {
          expect([path, Object.isFrozen(middleware)]).toEqual([path, true]);
        }
      }
      expect(Object.isFrozen(router)).toBe(true);
      expect(Object.isFrozen(router._def)).toBe(true);
      expect(Object.isFrozen(router._def._config)).toBe(true);
      expect(Object.isFrozen(router._def._config.transformer)).toBe(true);
      expect(frozen.size).toBeGreaterThan(procedures.length * 4);

      const create = procedures.find(([path]) => path === 'orders.create')![1] as { _def: { middlewares: unknown[] } };
      expect(() => {
        (create._def as Record<string, unknown>).middlewares = [];
      }).toThrow(TypeError);
      expect(() => create._def.middlewares.push(() => undefined)).toThrow(TypeError);
      expect(() => {
        (create._def.middlewares[0] as Record<string, unknown>).tag = 'written';
      }).toThrow(TypeError);
      expect(() => {
        (create as unknown as Record<string, unknown>)._def = {};
      }).toThrow(TypeError);
      expect(() => {
        (router._def._config as unknown as Record<string, unknown>).transformer = superjson;
      }).toThrow(TypeError);
      expect(() => {
        (router._def._config.transformer as unknown as Record<string, unknown>).output = superjson;
      }).toThrow(TypeError);
      expect(() => {
        (router._def.procedures as Record<string, unknown>).extra = create;
      }).toThrow(TypeError);
      expect(() => {
        (router as unknown as Record<string, unknown>).orders = {};
      }).toThrow(TypeError);
    });

    it('runs a fresh call once, replays it with its types, and refuses another input with 422', async () => {
      const key = newKey('frozen');
      const at = new Date(Date.UTC(2026, 4, 6, 7, 8, 9));

      const first = await send('orders.create', { item: 'lamp', qty: 2, at }, key);
      expect(first.status).toBe(200);
      expect(first.headers.get(IDEMPOTENT_REPLAYED_HEADER)).toBeNull();
      expect(runsOf(key)).toBe(1);

      const replayed = await send('orders.create', { item: 'lamp', qty: 2, at }, key);
      expect(replayed.status).toBe(200);
      expect(replayed.headers.get(IDEMPOTENT_REPLAYED_HEADER)).toBe('true');
      expect(replayed.data).toEqual(first.data);
      expect(replayed.data.at).toBeInstanceOf(Date);
      expect(replayed.data.at.getTime()).toBe(at.getTime());
      expect(replayed.data.createdAt).toBeInstanceOf(Date);
      expect(replayed.data.tags).toBeInstanceOf(Map);
      expect(replayed.data.totalCents).toBe(3998n);

      const other = await send('orders.create', { item: 'desk', qty: 2, at }, key);
      expect(other.status).toBe(422);
      expect(other.error?.data.idempotency).toEqual({ code: 'PAYLOAD_MISMATCH' });
      expect(runsOf(key)).toBe(1);
      expect(eventsOf(key)).toEqual(['claimed', 'completed', 'replayed', 'mismatch']);
      expect(effects.orders.filter((order) => order.key === key)).toHaveLength(1);
    });

    it('leaves the key unused after a validation error: the corrected input then runs once', async () => {
      const key = newKey('frozen-invalid');

      const invalid = await send('orders.create', { item: 42 }, key);
      expect(invalid.status).toBe(400);
      expect(invalid.error?.data.code).toBe('BAD_REQUEST');
      expect(invalid.error?.data.idempotency).toBeNull();
      expect(runsOf(key)).toBe(0);

      const corrected = await send('orders.create', { item: 'fixed' }, key);
      expect(corrected.status).toBe(200);
      expect(corrected.data.tags.get('item')).toBe('fixed');
      expect(runsOf(key)).toBe(1);
      // Now the key is bound to the corrected input.
      expect((await send('orders.create', { item: 'another' }, key)).status).toBe(422);
      expect(runsOf(key)).toBe(1);
    });

    it("replays a class registered with the app's superjson as that class", async () => {
      const key = newKey('frozen-money');
      const price = new Money(1250, 'EUR');

      const first = await send('orders.quote', { price }, key);
      expect(first.status).toBe(200);
      expect(first.data.price).toBeInstanceOf(Money);

      const replayed = await send('orders.quote', { price: new Money(1250, 'EUR') }, key);
      expect(replayed.status).toBe(200);
      expect(replayed.headers.get(IDEMPOTENT_REPLAYED_HEADER)).toBe('true');
      expect(replayed.data.price).toBeInstanceOf(Money);
      expect(replayed.data.price).toEqual(new Money(1250, 'EUR'));
      expect(runsOf(key)).toBe(1);
      // Fingerprinted by value: another amount under the key is another input.
      expect((await send('orders.quote', { price: new Money(1251, 'EUR') }, key)).status).toBe(422);
      expect(runsOf(key)).toBe(1);
    });

    it('runs 50 concurrent duplicates once; the others get the result or 409 IN_PROGRESS', async () => {
      const key = newKey('frozen-storm');

      const answers = await Promise.all(
        Array.from({ length: 50 }, () => send('orders.create', { item: 'storm', sleepMs: 150 }, key)),
      );

      expect(runsOf(key)).toBe(1);
      expect(effects.orders.filter((order) => order.key === key)).toHaveLength(1);
      const successes = answers.filter((answer) => answer.status === 200);
      const conflicts = answers.filter((answer) => answer.status === 409);
      expect(successes.length + conflicts.length).toBe(50);
      expect(successes.length).toBeGreaterThanOrEqual(1);
      const orderId = effects.orders.find((order) => order.key === key)!.id;
      for (const answer of successes) expect(answer.data.orderId).toBe(orderId);
      for (const answer of conflicts) expect(answer.error?.data.idempotency.code).toBe('IN_PROGRESS');
    });

    it('lets the SDK client recover an answer lost after the server committed, with one run', async () => {
      const client = createIdempotentClient<TestRouter>({
        url: proxy.url,
        transformer,
        headers: { 'x-user': 'ann' },
        idempotency: { schedule: immediate },
      });
      const before = proxy.requests.length;
      proxy.plan({ kind: 'reset-after-forward' });

      const result = await client.orders.create.mutate({ item: 'recovered', qty: 3 });

      const keyed = proxy.requests.slice(before).filter((request) => request.key !== undefined);
      expect(keyed.map((request) => request.fault)).toEqual(['reset-after-forward', 'pass']);
      const key = keyed[0]!.key!;
      expect(keyed[1]!.key).toBe(key);
      expect(runsOf(key)).toBe(1);
      expect(eventsOf(key)).toEqual(['claimed', 'completed', 'replayed']);
      expect(result.orderId).toBe(effects.orders.find((order) => order.key === key)!.id);
      expect(result.createdAt).toBeInstanceOf(Date);
      expect(result.totalCents).toBe(5997n);
    });

    it('serves a server-side caller of the frozen router, once per key', async () => {
      const key = newKey('frozen-caller');
      const caller = () => router.createCaller({ user: 'ann', pass: true, ...callerIdempotencyContext(key) });

      const first = await caller().orders.create({ item: 'caller' });
      const second = await caller().orders.create({ item: 'caller' });

      expect(second).toEqual(first);
      expect(runsOf(key)).toBe(1);
    });
  },
);
