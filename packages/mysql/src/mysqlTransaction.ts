import { type StoreTransaction, StoreUnavailableError } from '@trpc-idempotency/server';
import type { PoolConnection } from 'mysql2/promise';
import { type CallResult, firstRow } from './call.js';
import type { SchemaNames } from './names.js';
import { NOT_IN_TRANSACTION_SQLSTATE } from './schema.js';

/** What a holder's transaction needs from its store. */
export interface MySqlTransactionParts {
  /** The connection, inside the open transaction that the claim began. */
  connection: PoolConnection;
  names: SchemaNames;
  lease: { recordKey: string; token: string };
  /** The store's timeout for one call. */
  within: <T>(work: () => Promise<T>) => Promise<T>;
  /** Gives the connection back to the pool; with an error, the connection is closed instead. */
  giveBack: (error?: unknown) => void;
}

/**
 * The transaction a claim opened for the handler (docs/protocol.md §5). It ends with one round trip:
 * `commit` completes the record inside it and commits (or rolls all back when the lease is lost),
 * `rollback` rolls it back and then stores an error outcome or releases the lease on its own. Either
 * gives the connection back.
 */
export class MySqlTransaction implements StoreTransaction<PoolConnection> {
  readonly #parts: MySqlTransactionParts;
  #ended = false;

  constructor(parts: MySqlTransactionParts) {
    this.#parts = parts;
  }

  get client(): PoolConnection {
    return this.#parts.connection;
  }

  async commit({ outcome, retentionMs }: { outcome: string; retentionMs: number }): Promise<boolean> {
    const { connection, names, lease, within, giveBack } = this.#parts;
    this.#end();
    let result: CallResult;
    try {
      result = await within(
        () =>
          connection.query(`CALL ${names.commitComplete}(?, ?, ?, ?)`, [
            lease.recordKey,
            lease.token,
            outcome,
            retentionMs,
          ]) as Promise<CallResult>,
      );
    } catch (error) {
      if (fromDatabase(error)) {
        // The server answered with an error (the handler's transaction had ended, or the completion
        // failed): nothing of this call committed. Roll back what is left and release the lease (the
        // handler ran), so that a retry runs again.
        await connection.query(`CALL ${names.release}(?, ?, TRUE, TRUE)`, [lease.recordKey, lease.token]).then(
          () => giveBack(),
          (rollbackError: unknown) => giveBack(rollbackError ?? true),
        );
        const cause = unwrap(error);
        throw new TransactionFailedError(
          sqlState(error) === NOT_IN_TRANSACTION_SQLSTATE
            ? "The handler's transaction was no longer open at its commit (a COMMIT or ROLLBACK of its own, or a deadlock); the lease was released."
            : "The handler's transaction failed to commit and was rolled back.",
          { cause },
        );
      }
      // Whether the COMMIT ran is unknown (the connection broke, or it did not answer in time), so the
      // connection is closed rather than reused. Either way, record and writes went together.
      giveBack(error ?? true);
      throw error instanceof StoreUnavailableError
        ? error
        : new StoreUnavailableError(`MySQL failed while committing: ${asError(error).message}`, { cause: error });
    }
    giveBack();
    return Number(firstRow<{ applied: number }>(result)?.applied) === 1;
  }

  async rollback(then: { outcome: string; retentionMs: number } | { handlerBegan: boolean }): Promise<boolean> {
    const { connection, names, lease, within, giveBack } = this.#parts;
    this.#end();
    const [sql, values] =
      'outcome' in then
        ? [`CALL ${names.complete}(?, ?, ?, ?, TRUE)`, [lease.recordKey, lease.token, then.outcome, then.retentionMs]]
        : [`CALL ${names.release}(?, ?, ?, TRUE)`, [lease.recordKey, lease.token, then.handlerBegan]];
    let result: CallResult;
    try {
      result = await within(() => connection.query(sql, values) as Promise<CallResult>);
    } catch (error) {
      // The rollback happens anyway when the connection closes; the middleware then retries the
      // completion or release on a connection of its own.
      giveBack(error ?? true);
      throw error instanceof StoreUnavailableError
        ? error
        : new StoreUnavailableError(`MySQL failed while rolling back: ${asError(error).message}`, { cause: error });
    }
    giveBack();
    return Number(firstRow<{ applied: number }>(result)?.applied) === 1;
  }

  #end(): void {
    if (this.#ended) throw new Error('MySqlStore: this transaction was already committed or rolled back.');
    this.#ended = true;
  }
}

/**
 * Thrown by `commit` when the database refused the transaction itself (it had already ended, or the
 * completion failed): nothing was committed and the lease was released.
 */
export class TransactionFailedError extends Error {
  override readonly name = 'TransactionFailedError';
}

function unwrap(error: unknown): unknown {
  return error instanceof StoreUnavailableError ? error.cause : error;
}

function sqlState(error: unknown): string | undefined {
  return (unwrap(error) as { sqlState?: string } | undefined)?.sqlState;
}

/**
 * An error the server answered with on a connection that stays usable, as opposed to a broken
 * connection or a timeout (mysql2 marks those `fatal`, or they carry no SQLSTATE): after one of those,
 * whether the COMMIT ran is unknown.
 */
function fromDatabase(error: unknown): boolean {
  const cause = unwrap(error) as { fatal?: boolean; sqlState?: unknown } | undefined;
  return cause?.fatal !== true && typeof cause?.sqlState === 'string';
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
