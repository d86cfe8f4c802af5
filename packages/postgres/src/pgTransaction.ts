import { type StoreTransaction, StoreUnavailableError } from '@trpc-idempotency/server';
import type { PoolClient } from 'pg';
import type { SchemaNames } from './names.js';
import { LEASE_LOST_SQLSTATE } from './schema.js';
import { completeAndCommitSql, rollbackThenSql } from './statements.js';

/** What a holder's transaction needs from its store. */
export interface PgTransactionParts {
  /** The connection, inside the open transaction that the claim began. */
  client: PoolClient;
  names: SchemaNames;
  lease: { recordKey: string; token: string };
  /** The store's timeout for one call. */
  within: <T>(work: () => Promise<T>) => Promise<T>;
  /** Gives the connection back to the pool; with an error, the pool closes it. */
  giveBack: (error?: Error) => void;
}

/**
 * The transaction a claim opened for the handler (docs/protocol.md §5). It ends with one round trip:
 * `commit` completes the record inside it and commits, `rollback` rolls it back and then stores an
 * error outcome or releases the lease on its own. Either gives the connection back.
 */
export class PgTransaction implements StoreTransaction<PoolClient> {
  readonly #parts: PgTransactionParts;
  #ended = false;

  constructor(parts: PgTransactionParts) {
    this.#parts = parts;
  }

  get client(): PoolClient {
    return this.#parts.client;
  }

  async commit({ outcome, retentionMs }: { outcome: string; retentionMs: number }): Promise<boolean> {
    const { client, names, lease, within, giveBack } = this.#parts;
    this.#end();
    try {
      await within(() => client.query(completeAndCommitSql(names, { ...lease, outcome, retentionMs })));
    } catch (error) {
      if (sqlState(error) === LEASE_LOST_SQLSTATE) {
        // PostgreSQL skipped the COMMIT; the transaction is aborted and only a rollback ends it.
        await client.query('ROLLBACK').then(
          () => giveBack(),
          (rollbackError: Error) => giveBack(rollbackError),
        );
        return false;
      }
      if (fromDatabase(error)) {
        // The database answered with an error, so it skipped or failed the COMMIT: nothing committed.
        // Roll back what is left and release the lease (the handler ran), so that a retry runs again.
        await client.query(rollbackThenSql(names, lease, { handlerBegan: true })).then(
          () => giveBack(),
          (rollbackError: Error) => giveBack(rollbackError),
        );
        throw new TransactionFailedError("The handler's transaction failed to commit and was rolled back.", {
          cause: unwrap(error),
        });
      }
      // Whether the COMMIT ran is unknown (the connection broke, or it did not answer in time), so
      // the connection is closed rather than reused. Either way, record and writes went together.
      giveBack(asError(error));
      throw error instanceof StoreUnavailableError
        ? error
        : new StoreUnavailableError(`PostgreSQL failed while committing: ${asError(error).message}`, { cause: error });
    }
    giveBack();
    return true;
  }

  async rollback(then: { outcome: string; retentionMs: number } | { handlerBegan: boolean }): Promise<boolean> {
    const { client, names, lease, within, giveBack } = this.#parts;
    this.#end();
    let results: Array<{ rows: Array<{ applied: boolean }> }>;
    try {
      results = (await within(() => client.query(rollbackThenSql(names, lease, then)))) as unknown as typeof results;
    } catch (error) {
      // The rollback happens anyway when the connection closes; the middleware then retries the
      // completion or release on a connection of its own.
      giveBack(asError(error));
      throw error instanceof StoreUnavailableError
        ? error
        : new StoreUnavailableError(`PostgreSQL failed while rolling back: ${asError(error).message}`, {
            cause: error,
          });
    }
    giveBack();
    return results[1]?.rows[0]?.applied === true;
  }

  #end(): void {
    if (this.#ended) throw new Error('PostgresStore: this transaction was already committed or rolled back.');
    this.#ended = true;
  }
}

/**
 * Thrown by `commit` when the database refused the transaction itself (a statement of the handler had
 * failed, or a deferred constraint failed at COMMIT): nothing was committed and the lease was released.
 */
export class TransactionFailedError extends Error {
  override readonly name = 'TransactionFailedError';
}

function unwrap(error: unknown): unknown {
  return error instanceof StoreUnavailableError ? error.cause : error;
}

function sqlState(error: unknown): string | undefined {
  return (unwrap(error) as { code?: string } | undefined)?.code;
}

/**
 * An ERROR the server answered with, as opposed to a broken connection, a timeout, or a FATAL that ends
 * the session (a shutdown, a crash): after one of those, whether the COMMIT ran is unknown.
 */
function fromDatabase(error: unknown): boolean {
  const cause = unwrap(error) as { severity?: unknown } | undefined;
  return cause?.severity === 'ERROR' && typeof sqlState(error) === 'string';
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
