import './context.js';

export {
  IDEMPOTENCY_BATCH_KEYS_HEADER,
  IDEMPOTENCY_KEY_HEADER,
  IDEMPOTENT_REPLAYED_HEADER,
  type IdempotencyErrorCode,
  type IdempotencyErrorData,
  KEY_INVALID_REASONS,
  type KeyInvalidReason,
} from '@trpc-idempotency/protocol';
export {
  type BackoffSettings,
  backoffDelay,
  type Jitter,
  parseRetryAfter,
  planInProgressDelay,
  planRetryDelay,
  type RetryDelaySettings,
} from './backoff.js';
export {
  type ClientHeaders,
  createIdempotentClient,
  type IdempotentClientOptions,
} from './createIdempotentClient.js';
export { getIdempotencyErrorData, type IdempotencyClientError, isIdempotencyError } from './errors.js';
export type { AttemptEvent, AttemptOutcome, IdempotencyResultMeta } from './events.js';
export { hasIdempotencyKey, type IdempotencyHeadersSource, idempotencyHeaders } from './headersForKey.js';
export {
  createIntent,
  type InputSerializer,
  type Intent,
  type IntentCall,
  type IntentOptions,
  type KeyStorage,
  type PendingCall,
} from './intent.js';
export { type DeriveKeyParts, deriveIdempotencyKey, randomIdempotencyKey } from './keys.js';
export { idempotencyLink } from './links/idempotencyLink.js';
export {
  type MutateWithMetaOptions,
  type MutationProcedure,
  type MutationWithMeta,
  mutateWithMeta,
} from './mutateWithMeta.js';
export { browserOnlineSource, type OnlineSource } from './online.js';
export {
  type CallIdempotencyOptions,
  DEFAULT_RETRY_SETTINGS,
  type IdempotencyLinkOptions,
  type KeyPlacement,
  type KeyStrategy,
  type RetrySettings,
  type Schedule,
} from './options.js';
export type { FetchLike } from './responseProbe.js';
export { classifyFailure, type FailedAttempt, type FailureReason, type FailureVerdict } from './retryPolicy.js';
export { AttemptTimeoutError } from './signals.js';
export type { CallSpan, ClientTelemetry } from './telemetry.js';
