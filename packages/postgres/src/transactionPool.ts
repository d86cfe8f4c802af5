/** A pool-shaped view of one client, as query builders that take a pool expect it. */
export interface TransactionPool<TClient> {
  /** Hands out the one client every time; its `release()` gives nothing back. */
  connect(): Promise<TClient>;
  /** Does nothing: the transaction and its connection belong to the idempotency middleware. */
  end(): Promise<void>;
  options: object;
}

/**
 * Lets a query builder that wants a pool run on the handler's transaction, `ctx.idempotency.tx`. Kysely's
 * `PostgresDialect` takes it as its pool: every query of that Kysely instance then runs inside the
 * transaction that the middleware commits with the outcome. Do not start a transaction on it
 * (`db.transaction()`); savepoints are fine.
 *
 * @example
 * import { Kysely, PostgresDialect } from 'kysely';
 *
 * payments.mutation(async ({ ctx, input }) => {
 *   const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: transactionPool(ctx.idempotency.tx) }) });
 *   return db.insertInto('payments').values(input).returningAll().executeTakeFirstOrThrow();
 * });
 */
export function transactionPool<TClient extends object>(tx: TClient): TransactionPool<TClient> {
  // A proxy rather than a changed client: the middleware still needs the real release() afterwards.
  const client = new Proxy(tx, {
    get(target, property) {
      if (property === 'release') return () => {};
      const value = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return {
    connect: async () => client,
    end: async () => {},
    options: {},
  };
}
