import { initTRPC } from '@trpc/server';
import { createIdempotency, idempotencyErrorFormatter, type TransactionalStore } from '@trpc-idempotency/server';
import superjson from 'superjson';
import type { z } from 'zod';
import { type createContext, orderInput } from './app';
import type { VariantId } from './sqlStoresVariants';

type Context = Awaited<ReturnType<typeof createContext>>;
type Order = z.infer<typeof orderInput>;

/** How a handler writes its order row, and answers the id the database gave it. */
export interface OrderWriter<TClient> {
  /** On the app's own connection or pool, outside any transaction of the store. */
  plain(order: Order, fence: number | null): Promise<number> | number;
  /** Through the handler's transaction (`ctx.idempotency.tx`), which commits with the outcome. */
  inTransaction(tx: TClient, order: Order, fence: number): Promise<number> | number;
}

/**
 * The router of one bench:sql server: the one procedure of its variant, with the input, context and answer
 * of the main bench's router (app.ts), and a handler that writes its order row. `onRun` counts handler runs.
 */
export function buildSqlBenchRouter<TClient>(
  variant: VariantId,
  store: TransactionalStore<TClient>,
  writer: OrderWriter<TClient>,
  onRun: () => void,
) {
  const t = initTRPC.context<Context>().create({ transformer: superjson, errorFormatter: idempotencyErrorFormatter });
  const answer = (input: Order, orderId: number) => {
    onRun();
    return {
      orderId,
      item: input.item,
      qty: input.qty,
      totalCents: input.qty * 1999,
      createdAt: new Date(Date.UTC(2026, 0, 2, 3, 4, 5)),
    };
  };
  const scope = (ctx: Context) => ctx.user;
  switch (variant) {
    case 'plain-write':
      return t.router({
        plainWrite: t.procedure
          .input(orderInput)
          .mutation(async ({ input }) => answer(input, await writer.plain(input, null))),
      });
    case 'fresh':
    case 'replay':
      return t.router({
        order: t.procedure
          .use(createIdempotency({ store, scope, serializer: superjson }))
          .input(orderInput)
          .mutation(async ({ ctx, input }) => answer(input, await writer.plain(input, ctx.idempotency.fence))),
      });
    case 'tx-fresh':
      return t.router({
        orderTx: t.procedure
          .use(createIdempotency({ store, scope, serializer: superjson, transaction: true }))
          .input(orderInput)
          .mutation(async ({ ctx, input }) =>
            answer(input, await writer.inTransaction(ctx.idempotency.tx, input, ctx.idempotency.fence)),
          ),
      });
  }
}
