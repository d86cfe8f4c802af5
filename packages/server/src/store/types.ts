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

/** The answer to a claim: exactly one of the record states of PROTOCOL.md §2. */
export type ClaimResult =
  /** The caller holds the lease now; `fence` grew by one with this claim. */
  | { status: 'claimed'; fence: number }
  /** Another holder's lease is live for `retryAfterMs` more. */
  | { status: 'in_progress'; retryAfterMs: number }
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

/** Extends a lease by `leaseMs` from now. */
export interface RenewLeaseRequest extends LeaseRequest {
  leaseMs: number;
}

/**
 * Where idempotency records live. Every method is one atomic step: a store never checks and
 * then writes in two steps that another request could come between.
 *
 * `complete`, `release` and `renewLease` answer `false` when the token no longer holds the lease,
 * so a holder that lost its lease can never overwrite a newer holder's outcome.
 * Each method must be safe to run twice with the same arguments, since a client library may
 * resend a command after a reconnect.
 */
export interface IdempotencyStore {
  claim(request: ClaimRequest): Promise<ClaimResult>;
  complete(request: CompleteRequest): Promise<boolean>;
  release(request: LeaseRequest): Promise<boolean>;
  renewLease(request: RenewLeaseRequest): Promise<boolean>;
}

/** Thrown by a store that cannot be reached, or did not answer in time. */
export class StoreUnavailableError extends Error {
  override readonly name = 'StoreUnavailableError';
}
