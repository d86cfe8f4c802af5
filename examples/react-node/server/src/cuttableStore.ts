import { StoreUnavailableError, type TransactionalStore } from '@trpc-idempotency/server';
import type { TransactionalLedger } from './ledger.js';

/**
 * A transactional store (PostgreSQL, SQLite) as the chaos panel can cut it off: while cut, its calls fail
 * as an unreachable store's would (503 `STORE_UNAVAILABLE`), while the ledger beside it stays readable.
 * Each transaction it opens also tells the ledger how it ended, so the page can list a late write that was
 * rolled back.
 */
export function cuttableStore<TClient>(
  store: TransactionalStore<TClient>,
  ledger: Pick<TransactionalLedger<TClient>, 'settle'>,
  isCutOff: () => boolean,
): TransactionalStore<TClient> {
  const guard =
    <A, R>(call: (request: A) => Promise<R>) =>
    async (request: A): Promise<R> => {
      if (isCutOff()) throw new StoreUnavailableError('The chaos panel cut the idempotency store off.');
      return call(request);
    };
  return {
    ...(store.kind === undefined ? {} : { kind: store.kind }),
    claim: guard((request) => store.claim(request)),
    complete: guard((request) => store.complete(request)),
    release: guard((request) => store.release(request)),
    renewLease: guard((request) => store.renewLease(request)),
    claimInTransaction: guard(async (request) => {
      const claim = await store.claimInTransaction(request);
      if (claim.status !== 'claimed') return claim;
      const { transaction } = claim;
      const { client } = transaction;
      return {
        ...claim,
        transaction: {
          client,
          commit: async (request) => {
            let committed: boolean | undefined;
            try {
              committed = await transaction.commit(request);
              return committed;
            } finally {
              ledger.settle(client, committed);
            }
          },
          rollback: (then) => {
            ledger.settle(client, undefined);
            return transaction.rollback(then);
          },
        },
      };
    }),
  };
}
