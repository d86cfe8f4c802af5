/**
 * The states of a record (docs/protocol.md §2), each with the one-letter code that stores write.
 * Every store and script uses this table, so a state is named once.
 */
export const RECORD_STATES = {
  /** A holder owns a lease and is running, or about to run, the handler. */
  in_progress: 'p',
  /** The outcome is stored and is replayed until retention ends. */
  completed: 'c',
  /** The last holder gave its lease up without an outcome; the fence stays, so it never goes back. */
  released: 'r',
} as const;

/** One of the {@link RECORD_STATES}. */
export type RecordState = keyof typeof RECORD_STATES;

/**
 * The replies of a claim, by name. Stores and scripts answer with these names (a Lua script returns
 * the name as its first element), so a reply is named once.
 */
export const CLAIM_STATUSES = ['claimed', 'in_progress', 'mismatch', 'completed'] as const;

/** One of the {@link CLAIM_STATUSES}. */
export type ClaimStatus = (typeof CLAIM_STATUSES)[number];

/** What a claim asks the store to do: check the record and, if it is free, take its lease. */
export interface ClaimRequest {
  /** The record's name in the store: a hash, never a raw client key. */
  recordKey: string;
  /** SHA-256 over the canonical JSON of the call's input. */
  fingerprint: string;
  /** A random token that names this holder's lease. */
  token: string;
  leaseMs: number;
  retentionMs: number;
}

/** The answer to a claim: exactly one of {@link CLAIM_STATUSES}. */
export type ClaimResult =
  /** The caller holds the lease now; `fence` grew by one with this claim. */
  | { status: 'claimed'; fence: number }
  /**
   * Another holder's lease is live for `leaseRemainingMs` more; its holder claimed the record
   * `heldForMs` ago. The middleware turns both into the caller's `retryAfterMs`.
   */
  | { status: 'in_progress'; leaseRemainingMs: number; heldForMs: number }
  /** The record was made by a call with another input. */
  | { status: 'mismatch' }
  /** The outcome is stored: replay it. */
  | { status: 'completed'; outcome: string };

/** Stores the outcome and drops the lease, if the token still holds it. */
export interface CompleteRequest {
  recordKey: string;
  token: string;
  /** The outcome, already serialized. */
  outcome: string;
  retentionMs: number;
}

/** Names a lease by its record and its holder's token. */
export interface LeaseRequest {
  recordKey: string;
  token: string;
}

/** Gives a lease up without an outcome. */
export interface ReleaseRequest extends LeaseRequest {
  /**
   * Whether the handler began. When it did not (the input failed validation, or a middleware after
   * the idempotency middleware refused), the record does not bind the key to this input: the next
   * claim may bring another input. It stays bound if any earlier holder may have run the handler.
   */
  handlerBegan: boolean;
}

/** Extends a lease by `leaseMs` from now, and keeps the record at least `retentionMs` from now. */
export interface RenewLeaseRequest extends LeaseRequest {
  leaseMs: number;
  retentionMs: number;
}

/**
 * Where idempotency records live. Every method is one atomic step: a store never checks and
 * then writes in two steps that another request could come between.
 *
 * `complete`, `release` and `renewLease` answer `false` when the token no longer holds the lease,
 * so a holder that lost its lease can never overwrite a newer holder's outcome.
 * Each method must be safe to run twice with the same arguments, since a client library may
 * resend a command after a reconnect.
 *
 * A store never forgets a live or completed record to make room (docs/protocol.md §3): a bounded store at
 * its bound rejects `claim` of a new key with a {@link StoreFullError}, and a store that cannot write
 * (out of memory, read-only, disk full) rejects with a {@link StoreUnavailableError} or its own error.
 * Completions, releases and renewals of records it holds are never refused for lack of room.
 */
export interface IdempotencyStore {
  /** What kind of store it is (`memory`, `redis`, ...), for telemetry. Optional for stores of your own. */
  readonly kind?: string;
  claim(request: ClaimRequest): Promise<ClaimResult>;
  complete(request: CompleteRequest): Promise<boolean>;
  release(request: ReleaseRequest): Promise<boolean>;
  renewLease(request: RenewLeaseRequest): Promise<boolean>;
  /**
   * Optional: starts watching one record, so that a duplicate waiting for its holder is woken by the
   * completion itself rather than by asking again and again (docs/protocol.md §3). Synchronous and cheap;
   * the store may share one subscription between all watches of a record. Without it, a waiting
   * duplicate asks the store again on a timer (10 ms, doubling to 200 ms).
   *
   * The middleware keeps the state logic: it watches first, waits for {@link RecordWatch.ready}, claims
   * again (so a completion between its first claim and the watch is not missed), then waits for
   * {@link RecordWatch.changed} or its own re-read interval, whichever comes first, and claims again.
   * A watch only says "look again"; a store may report a change that was none.
   */
  watch?(recordKey: string): RecordWatch;
}

/**
 * A watch on one record, from {@link IdempotencyStore.watch} until {@link RecordWatch.close}. It reports a
 * `complete` or `release` of the record, by any holder in any process that shares the store. A takeover of
 * a lease that ran out need not be reported: a waiter looks again at the lease's end by itself.
 */
export interface RecordWatch {
  /**
   * Resolves once every later completion or release of the record will be reported. It may reject (the
   * store cannot subscribe now): the waiter then falls back to its re-read interval. The middleware waits
   * for it at most one re-read interval.
   */
  readonly ready: Promise<void>;
  /**
   * Resolves when the record was completed or released since the watch was ready or since the last
   * `changed` resolved (a change that came in between is kept, not lost), when the store may have missed
   * one (its subscription reconnected), after `timeoutMs`, or when `signal` aborts. Never rejects.
   */
  changed(options: { timeoutMs: number; signal?: AbortSignal }): Promise<void>;
  /** Ends the watch; the store drops its subscription once no watch of the record is left. Safe to call twice. */
  close(): void;
}

/**
 * A holder's open transaction in the store's own database (docs/protocol.md §5). The handler writes
 * through `client`; the middleware then ends the transaction with exactly one call of `commit` or
 * `rollback`, each one round trip, after which the store takes the connection back.
 */
export interface StoreTransaction<TClient> {
  /** What the handler writes through: a client of the store's database inside the open transaction. */
  readonly client: TClient;
  /**
   * Stores the outcome in this transaction, if this holder's token still holds a live lease on the
   * store's clock, and commits it together with the handler's writes, in one step. `true`: both are
   * committed. `false`: refused (the lease ran out or another holder took over), and everything was
   * rolled back. Rejects with a {@link StoreUnavailableError} when the store failed and it is unknown
   * whether it committed (the record and the handler's writes committed together or not at all); with
   * any other error when the database refused the transaction itself (a failed statement of the
   * handler, a deferred constraint): then nothing committed and the store released the lease.
   */
  commit(request: { outcome: string; retentionMs: number }): Promise<boolean>;
  /**
   * Rolls the handler's writes back, then, in a transaction of its own, stores `outcome` (an error the
   * handler threw on purpose) or releases the lease. Resolves as `complete` or `release` would.
   */
  rollback(then: { outcome: string; retentionMs: number } | { handlerBegan: boolean }): Promise<boolean>;
}

/** What {@link TransactionalStore.claimInTransaction} answers: a claim, with an open transaction when it claimed. */
export type TransactionalClaimResult<TClient> =
  | { status: 'claimed'; fence: number; transaction: StoreTransaction<TClient> }
  | Exclude<ClaimResult, { status: 'claimed' }>;

/**
 * A store that lives in the application's own database and can run the handler inside a transaction
 * whose commit also completes the record (docs/protocol.md §5). `createIdempotency({ transaction: true })`
 * needs one; the handler then finds the transaction's client in `ctx.idempotency.tx`.
 */
export interface TransactionalStore<TClient = unknown> extends IdempotencyStore {
  /**
   * Claims as `claim` does, committing the claim at once so that duplicates see it, and when it
   * claimed, opens a transaction on a connection of its own for the handler's writes.
   */
  claimInTransaction(request: ClaimRequest): Promise<TransactionalClaimResult<TClient>>;
}

/** The client type that a transactional store hands the handler as `ctx.idempotency.tx`. */
export type TransactionClientOf<TStore> = TStore extends TransactionalStore<infer TClient> ? TClient : never;

/** Whether a store offers {@link TransactionalStore.claimInTransaction}. */
export function isTransactionalStore(store: IdempotencyStore): store is TransactionalStore {
  return typeof (store as Partial<TransactionalStore>).claimInTransaction === 'function';
}

/** Thrown by a store that cannot be reached, or did not answer in time. */
export class StoreUnavailableError extends Error {
  override readonly name = 'StoreUnavailableError';
}

/**
 * Thrown by a store whose setup cannot keep its records, such as a Redis whose eviction policy could drop
 * them: it refuses to claim at all, since a record it forgets lets an intent run twice. The middleware
 * answers 503 `STORE_UNAVAILABLE` and never runs the handler unprotected, whatever `onStoreError` says.
 */
export class StoreMisconfiguredError extends Error {
  override readonly name = 'StoreMisconfiguredError';
}

/**
 * Thrown by `claim` of a store at its bound, for a key it holds no record of: it refuses the new record
 * rather than evict a live or completed one before its retention (docs/protocol.md §3). `retryAfterMs`
 * says when space may be free again.
 */
export class StoreFullError extends Error {
  override readonly name = 'StoreFullError';
  constructor(
    message: string,
    readonly retryAfterMs: number,
  ) {
    super(message);
  }
}
