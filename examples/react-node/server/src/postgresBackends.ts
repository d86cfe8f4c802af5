import { createSchema, PostgresStore, PostgresStoreSetupError } from '@trpc-idempotency/postgres';
import pg from 'pg';
import type { Backends } from './backends.js';
import { cuttableStore } from './cuttableStore.js';
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
      store: cuttableStore(store, ledger, () => cutOff),
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

/** "host:port/database", never the user or password of the URL. */
export function describeUrl(databaseUrl: string): string {
  try {
    const url = new URL(databaseUrl);
    return `${url.hostname}:${url.port || 5432}${url.pathname}`;
  } catch {
    return 'the DATABASE_URL';
  }
}
