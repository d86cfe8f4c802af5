// The SDK's TanStack Query integration (@trpc-idempotency/client/tanstack) with @trpc/tanstack-react-query
// at its newest: a keyed mutation made through it, its answer lost once, runs the handler once. It runs the
// mutation as useMutation does (a MutationObserver), without rendering React.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { MutationObserver, QueryClient } from '@tanstack/react-query';
import { createTRPCOptionsProxy } from '@trpc/tanstack-react-query';
import { createIdempotentClient } from '@trpc-idempotency/client';
import { idempotencyOf, idempotentMutation } from '@trpc-idempotency/client/tanstack';
import { Money, startApp, transformer } from './app.mjs';
import { startDropProxy } from './dropProxy.mjs';

let app;
before(async () => {
  app = await startApp();
});
after(() => app.close());

async function mutateThroughTanstack(retryOptions) {
  const proxy = await startDropProxy(app.url);
  try {
    const queryClient = new QueryClient();
    const client = createIdempotentClient({
      url: proxy.url,
      transformer,
      headers: { 'x-user': 'alice' },
      idempotency: { baseDelayMs: 10, maxDelayMs: 50 },
    });
    const trpc = createTRPCOptionsProxy({ client, queryClient });
    const pay = idempotentMutation(trpc.orders.create, { queryClient, client, intent: false });
    const observer = new MutationObserver(queryClient, pay.options(retryOptions));
    const result = await observer.mutate({ item: 'chair', qty: 2, price: new Money(4200, 'EUR') });
    const { key } = idempotencyOf(observer.getCurrentResult());
    // What useMutationState's select gets: the mutations of the cache, read through pay.select.
    const selected = queryClient
      .getMutationCache()
      .findAll({ mutationKey: pay.mutationKey })
      .map(pay.select((state) => [state.context?.idempotencyKey, state.data?.item]));
    assert.deepEqual(selected, [[key, 'chair']]);
    return { result, key, seen: proxy.seen };
  } finally {
    await proxy.close();
  }
}

for (const [name, retryOptions] of [
  ['the link retries', {}],
  ["React Query's retry", { retry: 2, retryDelay: 10 }],
]) {
  test(`idempotentMutation over createTRPCOptionsProxy: a dropped answer, ${name}, handler run once`, async () => {
    const { result, key, seen } = await mutateThroughTanstack(retryOptions);
    assert.equal(typeof key, 'string');
    assert.equal(result.item, 'chair');
    assert.ok(result.total instanceof Money);
    assert.deepEqual({ ...result.total }, { cents: 8400, currency: 'EUR' });
    const keyed = seen.filter((s) => s.key !== undefined);
    assert.deepEqual(
      keyed.map((s) => [s.key, s.end]),
      [
        [key, 'dropped'],
        [key, 'sent'],
      ],
    );
    assert.equal(app.runsOf(key), 1);
  });
}
