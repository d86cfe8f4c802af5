import { initTRPC } from '@trpc/server';
import { MySqlStore } from '@trpc-idempotency/mysql';
import { createIdempotency, type IdempotencyRequestContext } from '@trpc-idempotency/server';
import mysql from 'mysql2/promise';
import { describe, expectTypeOf, it } from 'vitest';

type Context = IdempotencyRequestContext & { user: string };
const scope = (ctx: Context) => ctx.user;
const t = initTRPC.context<Context>().create();

// These checks run in `tsc` (npm run typecheck); the pool connects only on first use, and none is made here.
describe('types of transactional completion on MySQL', () => {
  it('gives the handler the mysql2 connection of its transaction as ctx.idempotency.tx', () => {
    const store = new MySqlStore({ pool: mysql.createPool({ host: '127.0.0.1' }) });
    t.procedure.use(createIdempotency({ store, scope, serializer: 'json', transaction: true })).mutation(({ ctx }) => {
      expectTypeOf(ctx.idempotency.tx).toEqualTypeOf<mysql.PoolConnection>();
    });
    void store;
  });
});
