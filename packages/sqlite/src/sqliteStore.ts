import {
  checkOptions,
  nonEmptyString,
  numberAbove,
  type OptionRules,
  oneOf,
  required,
} from '@trpc-idempotency/protocol';
import {
  type ClaimRequest,
  type ClaimResult,
  type CompleteRequest,
  type ReleaseRequest,
  type RenewLeaseRequest,
  StoreUnavailableError,
  type TransactionalClaimResult,
  type TransactionalStore,
} from '@trpc-idempotency/server';
import type Database from 'better-sqlite3';
import { checkSchema, openDatabase, type Synchronous } from './createSchema.js';
import { describe, SqliteStoreSetupError } from './errors.js';
import { DEFAULT_TABLE, type SchemaNames, schemaNames } from './names.js';
import { SqliteTransaction } from './sqliteTransaction.js';
import { claimIn, decide, prepare, type Statements } from './statements.js';
import { type WriteLock, writeLockOf } from './writeLock.js';

/** Options of {@link SqliteStore}. */
export interface SqliteStoreOptions {
  /** The database file, created if absent (its directory must exist). Not `:memory:`: use MemoryStore. */
  filename: string;
  /** The table; createSchema() must have made it with the same name. Default `trpc_idempotency`. */
  table?: string;
  /**
   * How long a store call may wait for this process's write lock (held by a handler's transaction with
   * `transaction: true`) before it counts as unavailable, in ms. Default 2000.
   */
  timeoutMs?: number;
  /**
   * SQLite's busy timeout: how long a write waits for another process that holds the file's write lock,
   * in ms. better-sqlite3 waits by blocking the thread, so keep it short. Default 1000.
   */
  busyTimeoutMs?: number;
  /**
   * `full` (default): every commit is synced to disk before it returns, so a completed record survives a
   * power cut. `normal`: commits are synced at WAL checkpoints only; they survive a crash of the process,
   * and the last ones may be lost with the machine.
   */
  synchronous?: Synchronous;
  /**
   * With `transaction: true`: how long a handler's transaction may hold the database's write lock, in ms.
   * Past it the store rolls the transaction back, closes its connection and releases the lease, and the
   * handler's commit is refused. Default 30000.
   */
  transactionTimeoutMs?: number;
}

const SQLITE_STORE_RULES: OptionRules<SqliteStoreOptions> = {
  filename: required(
    (value) =>
      typeof value !== 'string' || value.length === 0
        ? 'must be the path of a database file'
        : value === ':memory:' || value.startsWith('file::memory:')
          ? 'must be a file: an in-memory database forgets every record with its process, and a transaction needs a second connection to it (use MemoryStore instead)'
          : undefined,
    'must be the path of a database file',
  ),
  // schemaNames checks the name itself, with the rule spelt out.
  table: nonEmptyString,
  timeoutMs: numberAbove(0, 'ms'),
  busyTimeoutMs: numberAbove(-1, 'ms'),
  synchronous: oneOf(['full', 'normal']),
  transactionTimeoutMs: numberAbove(0, 'ms'),
};

/**
 * An idempotency store in a SQLite file through better-sqlite3: durable on one machine, with the semantics
 * of PostgresStore. Each call is one statement or one short `BEGIN IMMEDIATE` transaction; expired rows
 * count as absent and are deleted in small batches by later claims, without a timer. With
 * `createIdempotency({ transaction: true })` it runs the handler inside a transaction of the same file
 * whose commit completes the record (docs/protocol.md §5); those transactions run one at a time.
 *
 * better-sqlite3 is synchronous: each call blocks the event loop while SQLite runs it (a few µs for a
 * claim on a warm file; with `synchronous: 'full'`, plus the fsync of each commit).
 *
 * @example
 * createSchema('data/app.db');                                         // once, or in your migrations
 * const store = await new SqliteStore({ filename: 'data/app.db' }).ready(); // typed errors at start-up
 */
export class SqliteStore implements TransactionalStore<Database.Database> {
  /** Names the store in telemetry (`trpc.idempotency.store`). */
  readonly kind = 'sqlite';
  readonly #filename: string;
  readonly #names: SchemaNames;
  readonly #timeoutMs: number;
  readonly #busyTimeoutMs: number;
  readonly #synchronous: Synchronous;
  readonly #transactionTimeoutMs: number;
  readonly #lock: WriteLock;
  /** The open handler transactions of this process, by record key. */
  readonly #open = new Map<string, SqliteTransaction>();
  #db: Database.Database | undefined;
  #statements: Statements | undefined;
  #closed = false;

  constructor(options: SqliteStoreOptions) {
    checkOptions('new SqliteStore', options, SQLITE_STORE_RULES);
    this.#filename = options.filename;
    this.#lock = writeLockOf(options.filename);
    this.#names = schemaNames(options.table ?? DEFAULT_TABLE);
    this.#timeoutMs = options.timeoutMs ?? 2000;
    this.#busyTimeoutMs = options.busyTimeoutMs ?? 1000;
    this.#synchronous = options.synchronous ?? 'full';
    this.#transactionTimeoutMs = options.transactionTimeoutMs ?? 30_000;
  }

  /**
   * Opens the file and checks that it holds this package's schema, and resolves to the store. Call it at
   * start-up: a file that cannot be opened, a missing table or an older schema then fail there, with a
   * {@link SqliteStoreSetupError} that says what to do, rather than as 503s per request.
   */
  async ready(): Promise<this> {
    this.#statementsOrThrow();
    return this;
  }

  async claim(request: ClaimRequest): Promise<ClaimResult> {
    const s = this.#statementsOrThrow();
    const answered = this.#answerWithoutWriting(s, request);
    if (answered) return answered;
    return this.#write(() => this.#claimNow(s, request));
  }

  async complete({ recordKey, token, outcome, retentionMs }: CompleteRequest): Promise<boolean> {
    const s = this.#statementsOrThrow();
    return this.#write(() => this.#completeNow(s, recordKey, token, outcome, retentionMs));
  }

  async release({ recordKey, token, handlerBegan }: ReleaseRequest): Promise<boolean> {
    const s = this.#statementsOrThrow();
    return this.#write(() => this.#releaseNow(s, recordKey, token, handlerBegan));
  }

  async renewLease({ recordKey, token, leaseMs, retentionMs }: RenewLeaseRequest): Promise<boolean> {
    const s = this.#statementsOrThrow();
    const open = this.#open.get(recordKey);
    // The holder's own transaction holds the write lock: the renewal joins it, and commits with it.
    if (open?.token === token) return this.#sqlite(() => open.renew(leaseMs, retentionMs));
    return this.#write(() => {
      const now = Date.now();
      return (
        s.renew.run({ key: recordKey, token, lease: now + leaseMs, expires: now + retentionMs, now }).changes === 1
      );
    });
  }

  /**
   * Claims in a short transaction of its own and commits it, so that duplicates see the claim; when it
   * claimed, opens `BEGIN IMMEDIATE` on a new connection for the handler, which holds this process's write
   * lock until the transaction's `commit` or `rollback`. Other writes of the store wait for it.
   */
  async claimInTransaction(request: ClaimRequest): Promise<TransactionalClaimResult<Database.Database>> {
    const s = this.#statementsOrThrow();
    const answered = this.#answerWithoutWriting(s, request);
    if (answered) return answered;
    if (!this.#lock.tryAcquire()) await this.#lock.acquire(this.#timeoutMs);
    let connection: Database.Database | undefined;
    let fence: number;
    try {
      const claim = this.#sqlite(() => this.#claimNow(s, request));
      if (claim.status !== 'claimed') {
        this.#lock.release();
        return claim;
      }
      fence = claim.fence;
      try {
        connection = openDatabase(this.#filename, {
          busyTimeoutMs: this.#busyTimeoutMs,
          synchronous: this.#synchronous,
          check: false,
        });
        connection.exec('BEGIN IMMEDIATE');
      } catch (error) {
        connection?.close();
        this.#releaseNow(s, request.recordKey, request.token, false);
        throw error;
      }
    } catch (error) {
      this.#lock.release();
      if (error instanceof StoreUnavailableError) throw error;
      throw new StoreUnavailableError(`SQLite call failed: ${describe(error)}`, { cause: error });
    }
    const { recordKey, token } = request;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const transaction = new SqliteTransaction({
      connection,
      names: this.#names,
      lease: { recordKey, token, leaseExpiresAt: Date.now() + request.leaseMs },
      settle: (then) =>
        'outcome' in then
          ? this.#completeNow(s, recordKey, token, then.outcome, then.retentionMs)
          : this.#releaseNow(s, recordKey, token, then.handlerBegan),
      settleLater: (then) =>
        'outcome' in then
          ? this.complete({ recordKey, token, ...then })
          : this.release({ recordKey, token, handlerBegan: then.handlerBegan }),
      finish: () => {
        clearTimeout(timer);
        if (this.#open.get(recordKey) === transaction) this.#open.delete(recordKey);
        this.#lock.release();
      },
    });
    this.#open.set(recordKey, transaction);
    timer = setTimeout(() => transaction.abort(), this.#transactionTimeoutMs);
    timer.unref?.();
    return { status: 'claimed', fence, transaction };
  }

  /**
   * Waits for the running handler transactions to end, then closes the store's connection. Calls made
   * afterwards answer with a StoreUnavailableError.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const held =
      this.#lock.tryAcquire() ||
      (await this.#lock.acquire(this.#transactionTimeoutMs + this.#timeoutMs).then(
        () => true,
        () => false,
      ));
    try {
      this.#db?.close();
      this.#db = undefined;
      this.#statements = undefined;
    } finally {
      // The lock is the file's, shared with any other store of this process on it.
      if (held) this.#lock.release();
    }
  }

  /**
   * Answers a claim from a read when it writes nothing (a replay, a mismatch, a live lease), so that it
   * needs no write lock; reads never wait in WAL mode. Only taken while the lock is busy: when it is free,
   * the claim's transaction reads the row anyway.
   */
  #answerWithoutWriting(s: Statements, request: ClaimRequest): Exclude<ClaimResult, { status: 'claimed' }> | undefined {
    if (!this.#lock.busy) return undefined;
    return this.#sqlite(() => {
      const now = Date.now();
      const row = s.read.get(request.recordKey);
      const open = this.#open.get(request.recordKey);
      // A renewal made inside the holder's open transaction is not visible yet; this process knows it.
      if (row && open && row.token === open.token && row.lease_expires_at !== null) {
        row.lease_expires_at = Math.max(row.lease_expires_at, open.leaseExpiresAt);
      }
      const step = decide(row, request, now);
      if (!('answer' in step) || step.answer.status === 'claimed') return undefined;
      return step.answer;
    });
  }

  #claimNow(s: Statements, request: ClaimRequest): ClaimResult {
    return this.#db!.transaction(() => claimIn(s, request, Date.now())).immediate();
  }

  #completeNow(s: Statements, recordKey: string, token: string, outcome: string, retentionMs: number): boolean {
    return this.#db!.transaction(() => {
      const now = Date.now();
      if (s.complete.run({ key: recordKey, token, outcome, expires: now + retentionMs, now }).changes === 1)
        return true;
      return s.completedBy.get(recordKey, token, now) === 1;
    }).immediate();
  }

  #releaseNow(s: Statements, recordKey: string, token: string, handlerBegan: boolean): boolean {
    return this.#db!.transaction(() => {
      const now = Date.now();
      if (s.release.run({ key: recordKey, token, began: handlerBegan ? 1 : 0, now }).changes === 1) return true;
      return s.releasedBy.get(recordKey, token, now) === 1;
    }).immediate();
  }

  /** Runs one synchronous write step under this process's write lock, waiting for it without blocking. */
  async #write<T>(step: () => T): Promise<T> {
    if (!this.#lock.tryAcquire()) await this.#lock.acquire(this.#timeoutMs);
    try {
      if (!this.#statements) throw new StoreUnavailableError('SqliteStore is closed.');
      return this.#sqlite(step);
    } finally {
      this.#lock.release();
    }
  }

  /** Runs a step on SQLite; any failure becomes a {@link StoreUnavailableError} (the middleware answers 503). */
  #sqlite<T>(step: () => T): T {
    try {
      return step();
    } catch (error) {
      if (error instanceof StoreUnavailableError || error instanceof SqliteStoreSetupError) throw error;
      throw new StoreUnavailableError(`SQLite call failed: ${describe(error)}`, { cause: error });
    }
  }

  /** Opens and checks the file before the first call; a failed check is tried again by the next call. */
  #statementsOrThrow(): Statements {
    if (this.#statements) return this.#statements;
    if (this.#closed) throw new StoreUnavailableError('SqliteStore is closed.');
    this.#db ??= openDatabase(this.#filename, {
      busyTimeoutMs: this.#busyTimeoutMs,
      synchronous: this.#synchronous,
    });
    checkSchema(this.#db, this.#names.table);
    this.#statements = prepare(this.#db, this.#names);
    return this.#statements;
  }
}
