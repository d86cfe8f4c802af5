import { type StoreTransaction, StoreUnavailableError } from '@trpc-idempotency/server';
import type Database from 'better-sqlite3';
import { describe, TransactionFailedError } from './errors.js';
import type { SchemaNames } from './names.js';
import { leaseSql } from './statements.js';

/** What a holder's transaction needs from its store. */
export interface SqliteTransactionParts {
  /** A connection of its own, inside the `BEGIN IMMEDIATE` that follows the claim. */
  connection: Database.Database;
  names: SchemaNames;
  lease: { recordKey: string; token: string; leaseExpiresAt: number };
  /**
   * Completes or releases the record on the store's own connection, as `complete` or `release` would;
   * called only after this transaction's connection let go of the file's write lock.
   */
  settle: (then: { outcome: string; retentionMs: number } | { handlerBegan: boolean }) => boolean;
  /** The same, through the store's write lock, for a transaction that `abort` already ended. */
  settleLater: (then: { outcome: string; retentionMs: number } | { handlerBegan: boolean }) => Promise<boolean>;
  /** Gives the store's write lock back and forgets this transaction; called once. */
  finish: () => void;
}

/**
 * The transaction a claim opened for the handler (docs/protocol.md §5), on a connection of its own that
 * holds the database's write lock until `commit` or `rollback`, and is closed then: a handler that kept
 * the client and wrote through it later gets an error instead of a write outside any transaction.
 */
export class SqliteTransaction implements StoreTransaction<Database.Database> {
  readonly #parts: SqliteTransactionParts;
  /** `aborted`: `abort` ended it before the holder did; `ended`: the holder called `commit` or `rollback`. */
  #state: 'open' | 'aborted' | 'ended' = 'open';
  #closed = false;

  constructor(parts: SqliteTransactionParts) {
    this.#parts = parts;
  }

  get client(): Database.Database {
    return this.#parts.connection;
  }

  /** When the lease ends, renewals inside this transaction included (other connections see them at commit). */
  get leaseExpiresAt(): number {
    return this.#parts.lease.leaseExpiresAt;
  }

  /** The token of the holder whose transaction this is. */
  get token(): string {
    return this.#parts.lease.token;
  }

  /** Renews the lease inside the transaction: the connection holds the write lock, so it cannot wait. */
  renew(leaseMs: number, retentionMs: number): boolean {
    const { connection, names, lease } = this.#parts;
    if (this.#closed || !connection.inTransaction) return false;
    const now = Date.now();
    const renewed =
      connection
        .prepare(leaseSql(names).renew)
        .run({ key: lease.recordKey, token: lease.token, lease: now + leaseMs, expires: now + retentionMs, now })
        .changes === 1;
    if (renewed) lease.leaseExpiresAt = now + leaseMs;
    return renewed;
  }

  async commit({ outcome, retentionMs }: { outcome: string; retentionMs: number }): Promise<boolean> {
    if (this.#end() === 'aborted') return false;
    const { connection, names, lease, settle } = this.#parts;
    try {
      if (!connection.inTransaction) {
        // SQLite rolled the transaction back under the handler (ON CONFLICT ROLLBACK, a full disk, an
        // I/O error), or the handler ended it itself: the record was not completed with its writes.
        this.#close();
        settle({ handlerBegan: true });
        throw new TransactionFailedError(
          "The handler's transaction was no longer open when it ended (SQLite rolled it back, or the handler ended it), so its outcome was not stored.",
        );
      }
      const now = Date.now();
      let applied: boolean;
      try {
        applied =
          connection
            .prepare(leaseSql(names).completeLive)
            .run({ key: lease.recordKey, token: lease.token, outcome, expires: now + retentionMs, now }).changes === 1;
        if (!applied) {
          this.#close();
          return false;
        }
        connection.exec('COMMIT');
      } catch (error) {
        // Whatever SQLite said, nothing is committed once the connection is closed without a COMMIT that
        // returned; the lease is left to run out, and the caller is told to retry.
        this.#close();
        throw new StoreUnavailableError(`SQLite failed while committing: ${describe(error)}`, { cause: error });
      }
      this.#close();
      return true;
    } finally {
      this.#parts.finish();
    }
  }

  async rollback(then: { outcome: string; retentionMs: number } | { handlerBegan: boolean }): Promise<boolean> {
    if (this.#end() === 'aborted') return this.#parts.settleLater(then);
    try {
      this.#close();
      return this.#parts.settle(then);
    } catch (error) {
      throw error instanceof StoreUnavailableError
        ? error
        : new StoreUnavailableError(`SQLite failed while rolling back: ${describe(error)}`, { cause: error });
    } finally {
      this.#parts.finish();
    }
  }

  /**
   * Rolls back and closes the connection before the holder ended (the transaction ran past the store's
   * `transactionTimeoutMs`), and releases the lease. The handler's later `commit` answers `false`.
   */
  abort(): void {
    if (this.#state !== 'open') return;
    this.#state = 'aborted';
    try {
      this.#close();
      this.#parts.settle({ handlerBegan: true });
    } catch {
      // The lease then runs out on its own.
    } finally {
      this.#parts.finish();
    }
  }

  /** Rolls back what is open and closes the connection (closing rolls back too). */
  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const { connection } = this.#parts;
    try {
      if (connection.inTransaction) connection.exec('ROLLBACK');
    } catch {
      // Closing rolls it back.
    }
    connection.close();
  }

  /** Marks the holder's one `commit` or `rollback`, and says whether `abort` came first. */
  #end(): 'open' | 'aborted' {
    const was = this.#state;
    if (was === 'ended') throw new Error('SqliteStore: this transaction was already committed or rolled back.');
    this.#state = 'ended';
    return was;
  }
}
