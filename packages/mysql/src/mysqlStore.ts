import { checkOptions, numberAbove, type OptionRules, required } from '@trpc-idempotency/protocol';
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
import type { Pool, PoolConnection } from 'mysql2/promise';
import { type CallResult, firstRow } from './call.js';
import { checkSchema, describe } from './createSchema.js';
import { MySqlStoreSetupError } from './errors.js';
import { MySqlTransaction } from './mysqlTransaction.js';
import { DEFAULT_TABLE, type SchemaNames, schemaNames } from './names.js';

/** Options of {@link MySqlStore}. */
export interface MySqlStoreOptions {
  /** A promise Pool of mysql2 (`mysql2/promise`). The store takes one connection per call, and one per running handler with `transaction: true`. */
  pool: Pool;
  /** The table, optionally database-qualified; createSchema() must have made it with the same name. Default `trpc_idempotency`. */
  table?: string;
  /** How long one store call (waiting for a connection included) may take before it counts as unavailable, in ms. Default 2000. */
  timeoutMs?: number;
}

/** The one row of the claim procedure (schema.ts). */
interface ClaimRow {
  r_status: string;
  r_fence: number | string | null;
  r_outcome: string | null;
  r_lease_remaining_ms: number | string | null;
  r_held_for_ms: number | string | null;
}

const POOL_RULE = "must be a promise Pool of mysql2 (mysql.createPool(url) from 'mysql2/promise')";
const MYSQL_STORE_RULES: OptionRules<MySqlStoreOptions> = {
  pool: required((value) => {
    const pool = value as Partial<Pool> | null;
    return typeof pool?.query === 'function' && typeof pool.getConnection === 'function' ? undefined : POOL_RULE;
  }, POOL_RULE),
  // schemaNames checks the name itself, with the rule spelt out.
  table: (value) => (typeof value === 'string' ? undefined : 'must be a string'),
  timeoutMs: numberAbove(0, 'ms'),
};

/**
 * An idempotency store in MySQL or MariaDB (InnoDB) through mysql2, with the semantics of RedisStore and
 * PostgresStore: each call is one statement (one stored procedure of the schema), lease expiry and
 * retention are computed on the database's clock, and expired rows count as absent and are deleted in
 * small batches by later claims. With `createIdempotency({ transaction: true })` it also runs the
 * handler inside a transaction whose commit completes the record (docs/protocol.md §5).
 *
 * @example
 * const pool = mysql.createPool(process.env.DATABASE_URL); // import mysql from 'mysql2/promise'
 * await createSchema(pool);                               // once, or in your migrations
 * const store = await new MySqlStore({ pool }).ready();  // fails at start-up, with a typed error, if unusable
 */
export class MySqlStore implements TransactionalStore<PoolConnection> {
  /** Names the store in telemetry (`trpc.idempotency.store`). */
  readonly kind = 'mysql';
  readonly #pool: Pool;
  readonly #names: SchemaNames;
  readonly #timeoutMs: number;
  #schemaChecked = false;
  #schemaCheck: Promise<void> | undefined;

  constructor(options: MySqlStoreOptions) {
    checkOptions('new MySqlStore', options, MYSQL_STORE_RULES);
    this.#pool = options.pool;
    this.#names = schemaNames(options.table ?? DEFAULT_TABLE);
    this.#timeoutMs = options.timeoutMs ?? 2000;
  }

  /**
   * Checks that the database can be reached and holds this package's schema, and resolves to the store.
   * Call it at start-up: a bad connection string, a missing table or an older schema then fail there,
   * with a {@link MySqlStoreSetupError} that says what to do, rather than as 503s per request.
   */
  async ready(): Promise<this> {
    try {
      await this.#ensureSchema();
    } catch (error) {
      if (error instanceof MySqlStoreSetupError) throw error;
      throw new MySqlStoreSetupError(
        'CONNECTION_FAILED',
        `MySqlStore could not use the database: ${describe(error)} Check the connection settings (DATABASE_URL: host, port, user, password, database).`,
        { cause: error },
      );
    }
    return this;
  }

  async claim({ recordKey, fingerprint, token, leaseMs, retentionMs }: ClaimRequest): Promise<ClaimResult> {
    const row = await this.#call<ClaimRow>(
      `CALL ${this.#names.claim}(?, ?, ?, ?, ?, FALSE)`,
      [recordKey, fingerprint, token, leaseMs, retentionMs],
      // A claim that timed out may still run later and hold a lease nobody renews: let go of it then.
      (late) => {
        if (late?.r_status === 'claimed') void this.release({ recordKey, token, handlerBegan: false }).catch(() => {});
      },
    );
    return toClaimResult(row);
  }

  async complete({ recordKey, token, outcome, retentionMs }: CompleteRequest): Promise<boolean> {
    const row = await this.#call<{ applied: number }>(`CALL ${this.#names.complete}(?, ?, ?, ?, FALSE)`, [
      recordKey,
      token,
      outcome,
      retentionMs,
    ]);
    return Number(row?.applied) === 1;
  }

  async release({ recordKey, token, handlerBegan }: ReleaseRequest): Promise<boolean> {
    const row = await this.#call<{ applied: number }>(`CALL ${this.#names.release}(?, ?, ?, FALSE)`, [
      recordKey,
      token,
      handlerBegan,
    ]);
    return Number(row?.applied) === 1;
  }

  async renewLease({ recordKey, token, leaseMs, retentionMs }: RenewLeaseRequest): Promise<boolean> {
    const row = await this.#call<{ applied: number }>(`CALL ${this.#names.renewLease}(?, ?, ?, ?)`, [
      recordKey,
      token,
      leaseMs,
      retentionMs,
    ]);
    return Number(row?.applied) === 1;
  }

  /**
   * Claims, and when it claimed, leaves a transaction open on the same connection for the handler: one
   * round trip (the claim procedure commits the claim, then runs START TRANSACTION). The connection is
   * the store's until the transaction's `commit` or `rollback`.
   */
  async claimInTransaction(request: ClaimRequest): Promise<TransactionalClaimResult<PoolConnection>> {
    await this.#ensureSchema();
    const connection = await this.#within(
      () => this.#pool.getConnection(),
      (late) => late.release(),
    );
    const giveBack = (error?: unknown) => {
      if (error) connection.destroy();
      else connection.release();
    };
    const { recordKey, fingerprint, token, leaseMs, retentionMs } = request;
    let result: CallResult;
    try {
      result = await this.#within(
        () =>
          connection.query(`CALL ${this.#names.claim}(?, ?, ?, ?, ?, TRUE)`, [
            recordKey,
            fingerprint,
            token,
            leaseMs,
            retentionMs,
          ]) as Promise<CallResult>,
        undefined,
        // The call may still run: queued behind it on the same connection, end whatever it opened and
        // let go of a claim it made, then give the connection back.
        () =>
          connection.query(`CALL ${this.#names.release}(?, ?, FALSE, TRUE)`, [recordKey, token]).then(
            () => giveBack(),
            (error: unknown) => giveBack(error),
          ),
      );
    } catch (error) {
      if (!(error instanceof StoreTimeoutError)) giveBack(error);
      throw error;
    }
    const claim = toClaimResult(firstRow<ClaimRow>(result));
    if (claim.status !== 'claimed') {
      // The procedure opened no transaction for a claim that did not claim.
      giveBack();
      return claim;
    }
    const transaction = new MySqlTransaction({
      connection,
      names: this.#names,
      lease: { recordKey, token },
      within: (work) => this.#within(work),
      giveBack,
    });
    return { ...claim, transaction };
  }

  /** Runs one CALL on a pooled connection, after the schema check, within the timeout; answers its first row. */
  async #call<T>(sql: string, values: unknown[], onLate?: (row: T | undefined) => void): Promise<T | undefined> {
    await this.#ensureSchema();
    const result = await this.#within(
      () => this.#pool.query(sql, values) as Promise<CallResult>,
      onLate ? (late) => onLate(firstRow<T>(late)) : undefined,
    );
    return firstRow<T>(result);
  }

  /** Checks the schema before the first call; a failed check is tried again by the next call. */
  async #ensureSchema(): Promise<void> {
    if (this.#schemaChecked) return;
    this.#schemaCheck ??= this.#within(() => checkSchema(this.#pool, this.#names.table)).then(
      () => {
        this.#schemaChecked = true;
      },
      (error: unknown) => {
        this.#schemaCheck = undefined;
        throw error;
      },
    );
    await this.#schemaCheck;
  }

  /**
   * Runs one piece of store work within `timeoutMs`. Any failure becomes a {@link StoreUnavailableError}
   * (the middleware answers 503), with the original as its cause. Work that finishes after the timeout
   * is handed to `onLate`; `onTimeout` runs when the time is up.
   */
  async #within<T>(work: () => Promise<T>, onLate?: (value: T) => void, onTimeout?: () => void): Promise<T> {
    let timedOut = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const running = work();
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        timedOut = true;
        onTimeout?.();
        reject(new StoreTimeoutError(`MySQL did not answer within ${this.#timeoutMs} ms.`));
      }, this.#timeoutMs);
    });
    if (onLate) running.then((value) => timedOut && onLate(value)).catch(() => {});
    try {
      return await Promise.race([running, timeout]);
    } catch (error) {
      if (error instanceof StoreUnavailableError || error instanceof MySqlStoreSetupError) throw error;
      throw new StoreUnavailableError(`MySQL call failed: ${describe(error)}`, { cause: error });
    } finally {
      clearTimeout(timer);
    }
  }
}

/** A store call that did not finish in time; its work may still happen. */
class StoreTimeoutError extends StoreUnavailableError {}

function toClaimResult(row: ClaimRow | undefined): ClaimResult {
  switch (row?.r_status) {
    case 'claimed':
      return { status: 'claimed', fence: Number(row.r_fence) };
    case 'in_progress':
      return {
        status: 'in_progress',
        leaseRemainingMs: Number(row.r_lease_remaining_ms),
        heldForMs: Number(row.r_held_for_ms),
      };
    case 'mismatch':
      return { status: 'mismatch' };
    case 'completed':
      return { status: 'completed', outcome: row.r_outcome ?? '' };
    default:
      throw new StoreUnavailableError(`Unexpected reply from the claim procedure: ${JSON.stringify(row)}`);
  }
}
