export {
  formatBatchKeys,
  IDEMPOTENCY_BATCH_KEYS_HEADER,
  type ParsedBatchKeys,
  parseBatchKeys,
} from './batchKeys.js';
export { canonicalJson } from './canonicalJson.js';
export {
  IDEMPOTENCY_ERROR_CODES,
  IDEMPOTENCY_ERROR_TRPC_CODES,
  type IdempotencyErrorCode,
  type IdempotencyErrorData,
  isIdempotencyErrorCode,
  KEY_INVALID_REASONS,
  type KeyInvalidReason,
  readIdempotencyErrorData,
} from './codes.js';
export {
  IDEMPOTENCY_ENVELOPE_FIELD,
  type IdempotencyEnvelope,
  readEnvelope,
  wrapInEnvelope,
} from './envelope.js';
export {
  IDEMPOTENCY_KEY_HEADER,
  IDEMPOTENT_REPLAYED_HEADER,
  LEGACY_IDEMPOTENCY_KEY_HEADER,
  PREFER_HEADER,
  PREFERENCE_APPLIED_HEADER,
} from './headers.js';
export {
  isValidIdempotencyKey,
  MAX_IDEMPOTENCY_KEY_LENGTH,
  type ParsedIdempotencyKey,
  parseIdempotencyKey,
} from './key.js';
export {
  allOf,
  anything,
  checkOptions,
  isBoolean,
  isFunction,
  nonEmptyString,
  numberAbove,
  type OptionRule,
  type OptionRules,
  oneOf,
  required,
  wholeNumber,
} from './options.js';
export { withoutAliasing } from './withoutAliasing.js';
