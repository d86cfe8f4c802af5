import { createSchema, PostgresStore, PostgresStoreSetupError } from '@trpc-idempotency/postgres';
import { StoreUnavailableError, type TransactionalStore } from '@trpc-idempotency/server';
import pg from 'pg';
import type { Backends } from './backends.js';
import { PostgresLedger } from './postgresLedger.js';

/** Table names, for tests that share one database; the defaults are what `npm start` uses. */
export interface PostgresTables {
  /** The idempotency records (PostgresStore's table). Default `trpc_idempotency`. */
  store?: string;
  /** The payments. Default `ledger_payments`. */
  ledger?: string;
}

/**
 * Payments and idempotency records in one PostgreSQL database: the handler writes the payment through
 * `ctx.idempotency.tx`, and the record's outcome commits in that same transaction.
 *
 * Start-up checks the database with `PostgresStore.ready()` first, so a bad DATABASE_URL ends the start
 * with a typed `PostgresStoreSetupError` (`CONNECTION_FAILED`), and creates the schema when it is missing
 * or older (`createSchema()`); a schema newer than the package also ends the start.
 *
 * @example
 * const backends = await createPostgresBackends('postgres://postgres@127.0.0.1:5432/postgres');
 */
export async function createPostgresBackends(databaseUrl: string, tables: PostgresTables = {}): Promise<Backends> {
  // Room for the handlers that hold a transaction at once, plus claims, renewals and the ledger's reads.
  // A connection that cannot be had within 2 s fails the call (503) instead of waiting without limit.
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 20, connectionTimeoutMillis: 2000 });
  let last = '';
  // An idle connection dropped by a database restart is reported here; say each distinct problem once.
  pool.on('error', (error: Error) => {
    if (error.message !== last) console.warn(`PostgreSQL: ${error.message}`);
    last = error.message;
  });
  try {
    const store = await readyStore(pool, tables.store);
    const ledger = await PostgresLedger.open(pool, tables.ledger);
    let cutOff = false;
    return {
      kind: 'postgres',
      where: `PostgreSQL at ${describeUrl(databaseUrl)}`,
      store: reachableStore(store, ledger, () => cutOff),
      ledger,
      // The ledger's reads (the page polls them) tell whether the database answers; the store lives there too.
      health: () => ({ store: !cutOff && ledger.reachable, ledger: ledger.reachable }),
      setStoreReachable: async (reachable) => {
        cutOff = !reachable;
      },
      close: () => pool.end(),
    };
  } catch (error) {
    await pool.end().catch(() => {});
    throw error;
  }
}

/** The store, checked; a missing or older schema is created or brought up to date first. */
async function readyStore(pool: pg.Pool, table: string | undefined): Promise<PostgresStore> {
  const store = new PostgresStore({ pool, ...(table ? { table } : {}) });
  try {
    return await store.ready();
  } catch (error) {
    const fixable =
      error instanceof PostgresStoreSetupError && (error.code === 'SCHEMA_MISSING' || error.code === 'SCHEMA_OUTDATED');
    if (!fixable) throw error;
  }
  await createSchema(pool, table ? { table } : {});
  return store.ready();
}

/**
 * The store as the chaos panel can cut it off: while cut, its five calls fail as an unreachable store's
 * would (503 `STORE_UNAVAILABLE`), while the ledger in the same database stays readable. Each transaction
 * it opens also tells the ledger how it ended, so the page can list a late write that was rolled back.
 */
function reachableStore(
  store: PostgresStore,
  ledger: PostgresLedger,
  isCutOff: () => boolean,
): TransactionalStore<pg.PoolClient> {
  const guard =
    <A, R>(call: (request: A) => Promise<R>) =>
    async (request: A): Promise<R> => {
      if (isCutOff()) throw new StoreUnavailableError('The chaos panel cut the idempotency store off.');
      return call(request);
    };
  return {
    kind: 'postgres',
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

/** "host:port/database", never the user or password of the URL. */
export function describeUrl(databaseUrl: string): string {
  try {
    const url = new URL(databaseUrl);
    return `${url.hostname}:${url.port || 5432}${url.pathname}`;
  } catch {
    return 'the DATABASE_URL';
  }
}
