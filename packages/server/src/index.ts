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
export { getIdempotencyErrorData, IdempotencyError, idempotencyErrorFormatter } from './errors.js';
export type { IdempotencyEvent, IdempotencyEventType } from './events.js';
export { LeaseLostError } from './leaseKeeper.js';
export { type IdempotencyOptions, type ScopeFunction, storeClientErrors } from './options.js';
export type { Serializer } from './outcome.js';
export {
  type FetchContextOptions,
  fetchIdempotencyContext,
  type IdempotencyRequest,
  type IdempotencyRequestContext,
  type NodeContextOptions,
  nodeIdempotencyContext,
} from './requestContext.js';
export { MemoryStore, type MemoryStoreOptions } from './store/memoryStore.js';
export { RedisStore, type RedisStoreOptions } from './store/redisStore.js';
export {
  type ClaimRequest,
  type ClaimResult,
  type CompleteRequest,
  type IdempotencyStore,
  type LeaseRequest,
  type RenewLeaseRequest,
  StoreUnavailableError,
} from './store/types.js';
