export {
  IDEMPOTENCY_BATCH_KEYS_HEADER,
  IDEMPOTENCY_ENVELOPE_FIELD,
  IDEMPOTENCY_KEY_HEADER,
  IDEMPOTENT_REPLAYED_HEADER,
  type IdempotencyErrorCode,
  type IdempotencyErrorData,
  KEY_INVALID_REASONS,
  type KeyInvalidReason,
  LEGACY_IDEMPOTENCY_KEY_HEADER,
  PREFER_HEADER,
  PREFERENCE_APPLIED_HEADER,
} from '@trpc-idempotency/protocol';
export {
  createIdempotency,
  type HandlerContextFor,
  type IdempotencyHandlerContext,
  type IdempotencyMiddleware,
  type TransactionalHandlerContext,
} from './createIdempotency.js';
export {
  type DrainedLease,
  type DrainOptions,
  type DrainReport,
  drainIdempotency,
} from './drain.js';
export { getIdempotencyErrorData, IdempotencyError, idempotencyErrorFormatter } from './errors.js';
export type { IdempotencyEvent, IdempotencyEventType } from './events.js';
export {
  createKeyIssuer,
  type IssuedKey,
  type IssuedKeyVerdict,
  type KeyIssuer,
  type KeyIssuerOptions,
} from './keyIssuer.js';
export { LeaseLostError, leaseSafetyMarginMs } from './leaseKeeper.js';
export { type IdempotencyOptions, storeClientErrors } from './options.js';
export type { Serializer } from './outcome.js';
export {
  callerIdempotencyContext,
  type FetchContextOptions,
  fetchIdempotencyContext,
  type IdempotencyRequest,
  type IdempotencyRequestContext,
  type NodeContextOptions,
  nodeIdempotencyContext,
} from './requestContext.js';
export { inProgressRetryAfterMs } from './retryHint.js';
export type { ScopeFunction } from './scope.js';
export { MemoryStore, type MemoryStoreOptions } from './store/memoryStore.js';
export { RecordWatches, type WatchSubscriber } from './store/recordWatches.js';
export { type RedisClient, RedisStore, type RedisStoreOptions } from './store/redisStore.js';
export {
  CLAIM_STATUSES,
  type ClaimRequest,
  type ClaimResult,
  type ClaimStatus,
  type CompleteRequest,
  type IdempotencyStore,
  isTransactionalStore,
  type LeaseRequest,
  RECORD_STATES,
  type RecordState,
  type RecordWatch,
  type ReleaseRequest,
  type RenewLeaseRequest,
  StoreFullError,
  StoreMisconfiguredError,
  type StoreTransaction,
  StoreUnavailableError,
  type TransactionalClaimResult,
  type TransactionalStore,
  type TransactionClientOf,
} from './store/types.js';
export type { CallTelemetry, IdempotencyTelemetry, ServerTelemetry } from './telemetry/types.js';
export type { InProgressWait } from './waitOptions.js';
