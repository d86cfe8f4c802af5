import { checkOptions, numberAbove, type OptionRules, required } from '@trpc-idempotency/protocol';
import {
  type ClaimRequest,
  type ClaimResult,
  type CompleteRequest,
  type RecordWatch,
  type ReleaseRequest,
  type RenewLeaseRequest,
  StoreFullError,
  StoreUnavailableError,
  type TransactionalClaimResult,
  type TransactionalStore,
} from '@trpc-idempotency/server';
import type { Pool, PoolClient } from 'pg';
import { checkSchema, describe } from './createSchema.js';
import { PostgresStoreSetupError } from './errors.js';
import { PostgresWatches } from './listener.js';
import { DEFAULT_TABLE, type SchemaNames, schemaNames } from './names.js';
import { PgTransaction } from './pgTransaction.js';
import { claimAndBeginSql, type NamedStatement, rollbackThenSql, type Statements, statements } from './statements.js';

/** Options of {@link PostgresStore}. */
export interface PostgresStoreOptions {
  /** A `pg` Pool. The store takes one connection per call, and one per running handler with `transaction: true`. */
  pool: Pool;
  /** The table, optionally schema-qualified; createSchema() must have made it with the same name. Default `trpc_idempotency`. */
  table?: string;
  /** How long one store call (waiting for a connection included) may take before it counts as unavailable, in ms. Default 2000. */
  timeoutMs?: number;
}

/** One row of the claim function (schema.ts). pg returns bigint as a string. */
interface ClaimRow {
  r_status: string;
  r_fence: string | null;
  r_outcome: string | null;
  r_lease_remaining_ms: string | null;
  r_held_for_ms: string | null;
}

const POOL_RULE = 'must be a pg Pool (new Pool({ connectionString }))';
const POSTGRES_STORE_RULES: OptionRules<PostgresStoreOptions> = {
  pool: required((value) => {
    const pool = value as Partial<Pool> | null;
    return typeof pool?.query === 'function' && typeof pool.connect === 'function' ? undefined : POOL_RULE;
  }, POOL_RULE),
  // schemaNames checks the name itself, with the rule spelt out.
  table: (value) => (typeof value === 'string' ? undefined : 'must be a string'),
  timeoutMs: numberAbove(0, 'ms'),
};

/**
 * An idempotency store in PostgreSQL through node-postgres (`pg`), with the semantics of RedisStore and
 * MemoryStore: each call is one statement (one function of the schema), lease expiry and retention are
 * computed on the database's clock, and expired rows count as absent and are deleted in small batches
 * by later claims. With `createIdempotency({ transaction: true })` it also runs the handler inside a
 * transaction whose commit completes the record (docs/protocol.md §5).
 *
 * @example
 * const pool = new Pool({ connectionString: process.env.DATABASE_URL });
 * await createSchema(pool);                            // once, or in your migrations
 * const store = await new PostgresStore({ pool }).ready(); // fails at start-up, with a typed error, if unusable
 */
export class PostgresStore implements TransactionalStore<PoolClient> {
  /** Names the store in telemetry (`trpc.idempotency.store`). */
  readonly kind = 'postgres';
  readonly #pool: Pool;
  readonly #names: SchemaNames;
  readonly #statements: Statements;
  readonly #timeoutMs: number;
  #schemaChecked = false;
  #schemaCheck: Promise<void> | undefined;
  /** The one LISTEN connection and the records waited for on it, opened on the first wait (listener.ts). */
  readonly #watches: PostgresWatches;

  constructor(options: PostgresStoreOptions) {
    checkOptions('new PostgresStore', options, POSTGRES_STORE_RULES);
    const timeoutMs = options.timeoutMs ?? 2000;
    this.#pool = options.pool;
    this.#names = schemaNames(options.table ?? DEFAULT_TABLE);
    this.#statements = statements(this.#names);
    this.#timeoutMs = timeoutMs;
    // An idle connection that the server drops (a restart, a failover) makes the pool emit 'error', and
    // an 'error' event nobody listens to ends the process. The next call simply gets a new connection.
    options.pool.on('error', () => {});
    this.#watches = new PostgresWatches(options.pool, this.#names.notifyChannel);
    // A pool without a Client class of its own cannot open a listening connection: waiters poll instead.
    if (!this.#watches.available) this.watch = undefined;
  }

  /**
   * Watches a record for a waiting duplicate (docs/protocol.md §3): the store's one listening connection
   * (`LISTEN`, beside the pool) hears the completion or release that any process announced with `pg_notify`.
   */
  watch?(recordKey: string): RecordWatch {
    return this.#watches.watch(recordKey);
  }

  /**
   * Ends the store's listening connection, if a wait opened one. The pool is yours to end; the store does
   * not hold any of its connections, so `pool.end()` needs no close first.
   */
  async close(): Promise<void> {
    await this.#watches.close();
  }

  /**
   * Checks that the database can be reached and holds this package's schema, and resolves to the store.
   * Call it at start-up: a bad connection string, a missing table or an older schema then fail there,
   * with a {@link PostgresStoreSetupError} that says what to do, rather than as 503s per request.
   */
  async ready(): Promise<this> {
    try {
      await this.#ensureSchema();
    } catch (error) {
      if (error instanceof PostgresStoreSetupError) throw error;
      throw new PostgresStoreSetupError(
        'CONNECTION_FAILED',
        `PostgresStore could not use the database: ${describe(error)} Check the connection settings (DATABASE_URL: host, port, user, password, database).`,
        { cause: error },
      );
    }
    return this;
  }

  async claim({ recordKey, fingerprint, token, leaseMs, retentionMs }: ClaimRequest): Promise<ClaimResult> {
    const row = await this.#run<ClaimRow>(
      this.#statements.claim,
      [recordKey, fingerprint, token, leaseMs, retentionMs],
      // A claim that timed out may still run later and hold a lease nobody renews: let go of it then.
      (late) => {
        if (late?.r_status === 'claimed') void this.release({ recordKey, token, handlerBegan: false }).catch(() => {});
      },
    ).catch(refuseWhenWritesRefused);
    return toClaimResult(row);
  }

  async complete({ recordKey, token, outcome, retentionMs }: CompleteRequest): Promise<boolean> {
    const row = await this.#run<{ applied: boolean }>(this.#statements.complete, [
      recordKey,
      token,
      outcome,
      retentionMs,
    ]);
    return row?.applied === true;
  }

  async release({ recordKey, token, handlerBegan }: ReleaseRequest): Promise<boolean> {
    const row = await this.#run<{ applied: boolean }>(this.#statements.release, [recordKey, token, handlerBegan]);
    return row?.applied === true;
  }

  async renewLease({ recordKey, token, leaseMs, retentionMs }: RenewLeaseRequest): Promise<boolean> {
    const row = await this.#run<{ applied: boolean }>(this.#statements.renewLease, [
      recordKey,
      token,
      leaseMs,
      retentionMs,
    ]);
    return row?.applied === true;
  }

  /**
   * Claims, and when it claimed, leaves a transaction open on the same connection for the handler: one
   * round trip (statements.ts, claimAndBeginSql). The connection is the store's until the transaction's
   * `commit` or `rollback`.
   */
  async claimInTransaction(request: ClaimRequest): Promise<TransactionalClaimResult<PoolClient>> {
    await this.#ensureSchema();
    const client = await this.#within(
      () => this.#pool.connect(),
      (late) => late.release(),
    );
    const onConnectionError = () => {};
    client.on('error', onConnectionError);
    const giveBack = (error?: Error) => {
      client.removeListener('error', onConnectionError);
      client.release(error);
    };
    let results: Array<{ rows: ClaimRow[] }>;
    try {
      results = await this.#within(
        () => client.query(claimAndBeginSql(this.#names, request)) as unknown as Promise<Array<{ rows: ClaimRow[] }>>,
        undefined,
        // The statements may still run: queued behind them on the same connection, end whatever they
        // opened and let go of a claim they made, then give the connection back.
        () =>
          client.query(rollbackThenSql(this.#names, request, { handlerBegan: false })).then(
            () => giveBack(),
            (error: Error) => giveBack(error),
          ),
      );
    } catch (error) {
      if (!(error instanceof StoreTimeoutError)) giveBack(error as Error);
      refuseWhenWritesRefused(error);
    }
    const claim = toClaimResult(results[1]?.rows[0]);
    if (claim.status !== 'claimed') {
      // Off the answer's path: the duplicate is answered now, and the empty transaction ends behind it.
      client.query('ROLLBACK').then(
        () => giveBack(),
        (error: Error) => giveBack(error),
      );
      return claim;
    }
    const transaction = new PgTransaction({
      client,
      names: this.#names,
      lease: { recordKey: request.recordKey, token: request.token },
      within: (work) => this.#within(work),
      giveBack,
    });
    return { ...claim, transaction };
  }

  /** Runs one prepared statement on a pooled connection, after the schema check, within the timeout. */
  async #run<T>(
    statement: NamedStatement,
    values: unknown[],
    onLate?: (row: T | undefined) => void,
  ): Promise<T | undefined> {
    await this.#ensureSchema();
    const result = await this.#within(
      () => this.#pool.query<T & object>({ ...statement, values }),
      onLate ? (late) => onLate(late.rows[0]) : undefined,
    );
    return result.rows[0];
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
        reject(new StoreTimeoutError(`PostgreSQL did not answer within ${this.#timeoutMs} ms.`));
      }, this.#timeoutMs);
    });
    if (onLate) running.then((value) => timedOut && onLate(value)).catch(() => {});
    try {
      return await Promise.race([running, timeout]);
    } catch (error) {
      if (error instanceof StoreUnavailableError || error instanceof PostgresStoreSetupError) throw error;
      throw new StoreUnavailableError(`PostgreSQL call failed: ${describe(error)}`, { cause: error });
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * SQLSTATEs of a database that answers but refuses to write: it cannot keep a record, so a claim is refused
 * as a full store's (503 STORE_FULL), never run past under fail-open (docs/protocol.md §3).
 */
const WRITES_REFUSED: Record<string, string> = {
  '25006': 'read-only transaction',
  '53100': 'disk full',
  '53200': 'out of memory',
};

/** A claim the database refused to write is refused as a full store's; any other error passes as it was. */
function refuseWhenWritesRefused(error: unknown): never {
  const code = ((error as { cause?: { code?: unknown } }).cause?.code ?? (error as { code?: unknown }).code) as string;
  const refused = WRITES_REFUSED[code];
  if (refused) throw new StoreFullError(`PostgreSQL refuses writes (${refused}): ${describe(error)}`, 1000);
  throw error;
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
      throw new StoreUnavailableError(`Unexpected reply from the claim function: ${JSON.stringify(row)}`);
  }
}
