export {
  IDEMPOTENCY_KEY_HEADER,
  IDEMPOTENT_REPLAYED_HEADER,
  type IdempotencyErrorCode,
  type IdempotencyErrorData,
  LEGACY_IDEMPOTENCY_KEY_HEADER,
} from '@trpc-idempotency/protocol';
export {
  createIdempotency,
  type IdempotencyHandlerContext,
  type IdempotencyMiddleware,
} from './createIdempotency.js';
export {
  type DrainedLease,
  type DrainOptions,
  type DrainReport,
  drainIdempotency,
} from './drain.js';
export { getIdempotencyErrorData, IdempotencyError, idempotencyErrorFormatter } from './errors.js';
export type { IdempotencyEvent, IdempotencyEventType } from './events.js';
export { LeaseLostError, leaseSafetyMarginMs } from './leaseKeeper.js';
export { type IdempotencyOptions, type ScopeFunction, storeClientErrors } from './options.js';
export type { Serializer } from './outcome.js';
export {
  type FetchContextOptions,
  fetchIdempotencyContext,
  type IdempotencyRequest,
  type IdempotencyRequestContext,
  type NodeContextOptions,
  nodeIdempotencyContext,
  type RequestCall,
} from './requestContext.js';
export { inProgressRetryAfterMs } from './retryHint.js';
export { MemoryStore, type MemoryStoreOptions } from './store/memoryStore.js';
export { type RedisClient, RedisStore, type RedisStoreOptions } from './store/redisStore.js';
export {
  CLAIM_STATUSES,
  type ClaimRequest,
  type ClaimResult,
  type ClaimStatus,
  type CompleteRequest,
  type IdempotencyStore,
  type LeaseRequest,
  RECORD_STATES,
  type RecordState,
  type ReleaseRequest,
  type RenewLeaseRequest,
  StoreUnavailableError,
} from './store/types.js';
export type { OpenTelemetryApi, OpenTelemetryOptions } from './telemetry/openTelemetryApi.js';
