import { initTRPC } from '@trpc/server';
import { PostgresStore } from '@trpc-idempotency/postgres';
import {
  createIdempotency,
  type IdempotencyHandlerContext,
  type IdempotencyRequestContext,
  MemoryStore,
} from '@trpc-idempotency/server';
import pg from 'pg';
import { describe, expectTypeOf, it } from 'vitest';

type Context = IdempotencyRequestContext & { user: string };
const scope = (ctx: Context) => ctx.user;
const t = initTRPC.context<Context>().create();
// Never connects: the pool opens connections on first use, and these checks only build procedures.
const postgres = new PostgresStore({ pool: new pg.Pool() });

// These checks run in `tsc` (npm run typecheck); each @ts-expect-error fails the build if the error goes away.
describe('types of transactional completion', () => {
  it('gives the handler the pg client of its transaction as ctx.idempotency.tx', () => {
    t.procedure
      .use(createIdempotency({ store: postgres, scope, serializer: 'json', transaction: true }))
      .mutation(({ ctx }) => {
        expectTypeOf(ctx.idempotency.tx).toEqualTypeOf<pg.PoolClient>();
        expectTypeOf(ctx.idempotency.fence).toEqualTypeOf<number>();
      });
  });

  it('gives no tx without transaction: true, and a possibly null context with required: false', () => {
    t.procedure.use(createIdempotency({ store: postgres, scope, serializer: 'json' })).mutation(({ ctx }) => {
      expectTypeOf(ctx.idempotency).toEqualTypeOf<IdempotencyHandlerContext>();
    });
    t.procedure
      .use(createIdempotency({ store: postgres, scope, serializer: 'json', transaction: true, required: false }))
      .mutation(({ ctx }) => {
        expectTypeOf(ctx.idempotency?.tx).toEqualTypeOf<pg.PoolClient | undefined>();
      });
  });

  it('refuses transaction: true with a store that has no transactions', () => {
    // @ts-expect-error MemoryStore cannot run the handler in a database transaction
    const build = () => createIdempotency({ store: new MemoryStore(), scope, serializer: 'json', transaction: true });
    expectTypeOf(build).toBeFunction();
  });
});
