import type { IdempotencyEvent } from './events.js';
import type { LeaseKeeper } from './leaseKeeper.js';
import type { Serializer } from './outcome.js';
import type { StoreTransaction } from './store/types.js';

/** The holder's part of a call: the claim it won and what it reports. */
export interface Holder {
  recordKey: string;
  token: string;
  fence: number;
  claimSentAt: number;
  key: string;
  output: Serializer;
  emit: (event: Omit<IdempotencyEvent, 'path' | 'scope' | 'key'>) => void;
  /** Told when the handler starts and when the lease is settled, for `drain()` and the leases-held gauge. */
  lifecycle?: LeaseLifecycle;
  /** With `transaction: true`: the transaction the handler writes through; the middleware ends it. */
  transaction?: StoreTransaction<unknown>;
}

/** The steps of a held lease, for those who count leases: a drain, telemetry. */
export interface LeaseLifecycle {
  /** The lease is held and renewed; `keeper.abort` gives it up. */
  running(keeper: LeaseKeeper): void;
  /** The handler returned; its completion or release is under way. */
  settling(): void;
  /** The lease is settled: `applied` by the store or refused, or `undefined` when the retries gave up. */
  done(applied: boolean | undefined): void;
}
