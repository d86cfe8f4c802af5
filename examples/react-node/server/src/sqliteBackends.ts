import { mkdirSync } from 'node:fs';
import { dirname, relative } from 'node:path';
import { createSchema, SqliteStore } from '@trpc-idempotency/sqlite';
import type { Backends } from './backends.js';
import { cuttableStore } from './cuttableStore.js';
import { SqliteLedger } from './sqliteLedger.js';

/** Options of {@link createSqliteBackends}. */
export interface SqliteBackendOptions {
  /**
   * With `transaction: true` a handler's transaction holds the file's write lock until it ends, so a handler
   * stopped past its lease would hold every other payment up. The demo rolls such a transaction back after
   * its lease (SqliteStore's `transactionTimeoutMs`); the default is SqliteStore's 30 s.
   */
  transactionTimeoutMs?: number;
}

/**
 * Payments and idempotency records in one SQLite file: the handler writes the payment through
 * `ctx.idempotency.tx`, and the record's outcome commits in that same transaction, so a restart of the
 * server keeps both. The file's directory is created if it is missing, and so are the schema
 * (`createSchema()`, safe to run on every start) and the ledger's table; `SqliteStore.ready()` then checks
 * the file, so a file that cannot be used ends the start with a typed `SqliteStoreSetupError`.
 *
 * @example
 * const backends = await createSqliteBackends('examples/react-node/.data/payments.db');
 */
export async function createSqliteBackends(filename: string, options: SqliteBackendOptions = {}): Promise<Backends> {
  mkdirSync(dirname(filename), { recursive: true });
  createSchema(filename);
  const store = await new SqliteStore({ filename, ...options }).ready();
  let ledger: SqliteLedger;
  try {
    ledger = SqliteLedger.open(filename);
  } catch (error) {
    await store.close();
    throw error;
  }
  let cutOff = false;
  return {
    kind: 'sqlite',
    where: `SQLite at ${describeFile(filename)}`,
    store: cuttableStore(store, ledger, () => cutOff),
    ledger,
    // One file on this machine: the ledger's reads tell whether it can still be read.
    health: () => ({ store: !cutOff && ledger.reachable, ledger: ledger.reachable }),
    setStoreReachable: async (reachable) => {
      cutOff = !reachable;
    },
    close: async () => {
      // Waits for the handlers' open transactions to end, then closes the file.
      await store.close();
      ledger.close();
    },
  };
}

/** The file as the start line names it: relative to the working directory when it is inside it. */
function describeFile(filename: string): string {
  const near = relative(process.cwd(), filename);
  return near && !near.startsWith('..') ? near : filename;
}
