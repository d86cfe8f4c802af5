import type { Operation, TRPCClientError } from '@trpc/client';
import {
  type AttemptEvent,
  type CallIdempotencyOptions,
  createIdempotentClient,
  type IdempotencyErrorCode,
  type IdempotencyResultMeta,
  isIdempotencyError,
  type MutationWithMeta,
  mutateWithMeta,
} from '@trpc-idempotency/client';
import superjson from 'superjson';
import { describe, expectTypeOf, it } from 'vitest';
import type { TestRouter } from '../support/app.js';

// These checks run in `tsc` (npm run typecheck); each @ts-expect-error fails the build if the error goes away.
describe('types', () => {
  it('augments OperationContext with the key and per-call settings', () => {
    expectTypeOf<Operation['context']['idempotencyKey']>().toEqualTypeOf<string | undefined>();
    expectTypeOf<Operation['context']['idempotency']>().toEqualTypeOf<CallIdempotencyOptions | false | undefined>();
  });

  it('narrows an error to the SDK error of one code', () => {
    const error: unknown = new Error('x');
    if (isIdempotencyError(error, 'IN_PROGRESS')) {
      expectTypeOf(error.data.idempotency.code).toEqualTypeOf<'IN_PROGRESS'>();
      expectTypeOf(error.data.idempotency.retryAfterMs).toEqualTypeOf<number | undefined>();
      expectTypeOf(error.data.httpStatus).toEqualTypeOf<number>();
      expectTypeOf(error).toExtend<TRPCClientError<any>>();
    }
    if (isIdempotencyError(error)) expectTypeOf(error.data.idempotency.code).toEqualTypeOf<IdempotencyErrorCode>();
    // @ts-expect-error: not a code of the protocol
    isIdempotencyError(error, 'NOT_A_CODE');
  });

  it('returns the typed tRPC client and asks for the transformer the router uses', () => {
    const client = createIdempotentClient<TestRouter>({ url: 'http://127.0.0.1:1', transformer: superjson });
    expectTypeOf(client.orders.create.mutate).parameter(0).toExtend<{ item: string; qty?: number }>();
    expectTypeOf(client.orders.create.mutate({ item: 'x' }))
      .resolves.toHaveProperty('createdAt')
      .toEqualTypeOf<Date>();
    // The context is typed by tRPC as Record<string, unknown>; the key is still checked at run time.
    void client.orders.create.mutate({ item: 'x' }, { context: { idempotencyKey: 'k', idempotency: { attempts: 2 } } });
    // @ts-expect-error: the router uses superjson, so the client must too
    createIdempotentClient<TestRouter>({ url: 'http://127.0.0.1:1' });
    // @ts-expect-error: wrong input type
    void client.orders.create.mutate({ item: 1 }).catch(() => {});
  });

  it('describes each attempt', () => {
    expectTypeOf<AttemptEvent['outcome']>().toEqualTypeOf<
      'started' | 'succeeded' | 'retrying' | 'failed' | 'aborted'
    >();
    expectTypeOf<AttemptEvent['key']>().toEqualTypeOf<string>();
  });

  it("types the result meta: the hook in context.idempotency and mutateWithMeta with the procedure's output", () => {
    expectTypeOf<NonNullable<CallIdempotencyOptions['onResult']>>().parameter(0).toEqualTypeOf<IdempotencyResultMeta>();
    expectTypeOf<IdempotencyResultMeta>().toEqualTypeOf<{
      key: string;
      path: string;
      replayed: boolean;
      attempts: number;
    }>();
    const client = createIdempotentClient<TestRouter>({ url: 'http://127.0.0.1:1', transformer: superjson });
    const call = mutateWithMeta(client.orders.create, { item: 'x' }, { idempotencyKey: 'k', attempts: 3 });
    void call.catch(() => {});
    expectTypeOf(call).resolves.toHaveProperty('replayed').toEqualTypeOf<boolean>();
    expectTypeOf(call).resolves.toHaveProperty('key').toEqualTypeOf<string>();
    expectTypeOf(call).resolves.toHaveProperty('attempts').toEqualTypeOf<number>();
    expectTypeOf(call).resolves.toHaveProperty('data').toHaveProperty('createdAt').toEqualTypeOf<Date>();
    expectTypeOf(call).resolves.toHaveProperty('data').toHaveProperty('totalCents').toEqualTypeOf<bigint>();
    expectTypeOf(call).resolves.toExtend<MutationWithMeta<{ orderId: number }>>();
    // @ts-expect-error: wrong input type for the procedure
    void mutateWithMeta(client.orders.create, { item: 1 }).catch(() => {});
    // @ts-expect-error: a retry setting of the wrong type
    void mutateWithMeta(client.orders.create, { item: 'x' }, { attempts: '3' }).catch(() => {});
    // @ts-expect-error: a query is not a mutation
    void mutateWithMeta(client.orders.list, undefined).catch(() => {});
  });
});
