import { type OptionRules, oneOf } from '@trpc-idempotency/protocol';
import { compressOutcomeText, utf8Bytes } from './compression.js';
import { IdempotencyError } from './errors.js';
import { encodeError, encodeSuccess, type Serializer } from './outcome.js';
import type { AnyResult } from './trpcInternals.js';

/** 1 MiB: the default bound on a stored outcome and on a keyed input, as idempotency4j and Powertools use. */
export const DEFAULT_MAX_BYTES = 1024 * 1024;
/** The default threshold of `compressOutcomes: true`: below 8 KiB compression saves little and costs a call. */
export const DEFAULT_COMPRESS_ABOVE_BYTES = 8 * 1024;

/** The size options of `createIdempotency`, checked and with defaults filled in. */
export interface SizeLimits {
  /** Keyed inputs whose canonical JSON is larger are refused with 413 `INPUT_TOO_LARGE` before the claim. */
  maxInputBytes: number;
  /** Outcomes whose serialized text is larger are never stored. */
  maxOutcomeBytes: number;
  onOutcomeTooLarge: 'error' | 'release';
  /** Outcomes at least this large are stored compressed; `Infinity` turns compression off. */
  compressAboveBytes: number;
}

/** The size options as a user gives them. */
export interface SizeLimitOptions {
  maxInputBytes?: number;
  maxOutcomeBytes?: number;
  onOutcomeTooLarge?: 'error' | 'release';
  compressOutcomes?: boolean | { aboveBytes: number };
}

const isLimit = (value: unknown) => value === Infinity || (Number.isInteger(value) && (value as number) > 0);
const LIMIT_RULE = 'must be a positive whole number of bytes, or Infinity';

/** The rules of the size options, for `createIdempotency`'s option check. */
export const SIZE_LIMIT_RULES = {
  maxInputBytes: (value: unknown) => (isLimit(value) ? undefined : LIMIT_RULE),
  maxOutcomeBytes: (value: unknown) => (isLimit(value) ? undefined : LIMIT_RULE),
  onOutcomeTooLarge: oneOf(['error', 'release']),
  compressOutcomes: (value: unknown) =>
    typeof value === 'boolean' ||
    (typeof value === 'object' &&
      value !== null &&
      Object.keys(value).every((name) => name === 'aboveBytes') &&
      isLimit((value as { aboveBytes?: unknown }).aboveBytes))
      ? undefined
      : 'must be true, false or { aboveBytes } with a positive whole number of bytes',
} satisfies OptionRules<SizeLimitOptions>;

/** The size options with their defaults, once {@link SIZE_LIMIT_RULES} passed. */
export function sizeLimits(given: SizeLimitOptions): SizeLimits {
  const compress = given.compressOutcomes ?? false;
  return {
    maxInputBytes: given.maxInputBytes ?? DEFAULT_MAX_BYTES,
    maxOutcomeBytes: given.maxOutcomeBytes ?? DEFAULT_MAX_BYTES,
    onOutcomeTooLarge: given.onOutcomeTooLarge ?? 'error',
    compressAboveBytes:
      compress === false ? Infinity : compress === true ? DEFAULT_COMPRESS_ABOVE_BYTES : compress.aboveBytes,
  };
}

/** Refuses a keyed input larger than the limit (413 `INPUT_TOO_LARGE`), before anything reaches the store. */
export function checkInputSize(
  limits: SizeLimits,
  canonicalInput: string,
  emit: (event: { type: 'inputTooLarge'; bytes: number }) => void,
): void {
  // A UTF-16 code unit is at most 3 bytes of UTF-8: most inputs need no count at all.
  if (limits.maxInputBytes === Infinity || canonicalInput.length * 3 <= limits.maxInputBytes) return;
  const bytes = utf8Bytes(canonicalInput);
  if (bytes <= limits.maxInputBytes) return;
  emit({ type: 'inputTooLarge', bytes });
  throw new IdempotencyError(
    'INPUT_TOO_LARGE',
    `This input is ${bytes} bytes as canonical JSON; idempotent mutations take at most ${limits.maxInputBytes}.`,
  );
}

/** What to store for a result, and what to answer. */
export interface PreparedOutcome {
  /** The text to store (`complete`), or `undefined` to release the lease instead. */
  stored: string | undefined;
  /** The answer for this call: the handler's result, or `OUTCOME_TOO_LARGE` in its place. */
  answer: AnyResult;
  /** The serialized outcome's size, when it was over `maxOutcomeBytes`. */
  tooLargeBytes?: number;
}

/**
 * Decides what is stored for a handler's result (docs/protocol.md §3): the serialized outcome, compressed
 * above the threshold; nothing (release) for an error that must not be replayed or an outcome the serializer
 * cannot write; and for an outcome over `maxOutcomeBytes`, either the small `OUTCOME_TOO_LARGE` error, which
 * this call and every retry then get (`'error'`, the default: the handler never runs twice), or nothing
 * (`'release'`: this call gets its result, a retry runs the handler again).
 */
export function prepareOutcome(
  limits: SizeLimits,
  output: Serializer,
  result: AnyResult,
  shouldStoreError: (error: any) => boolean,
): PreparedOutcome {
  if (!result.ok && !shouldStoreError(result.error)) return { stored: undefined, answer: result };
  let text: string;
  try {
    if (result.ok) {
      text = encodeSuccess(output, result.data);
    } else {
      text = encodeError({ code: result.error.code, message: result.error.message });
    }
  } catch {
    // An outcome the serializer cannot write cannot be replayed; releasing lets a retry run again
    // instead of blocking it for a whole lease.
    return { stored: undefined, answer: result };
  }
  const bytes = limits.maxOutcomeBytes === Infinity ? 0 : utf8Bytes(text);
  if (bytes <= limits.maxOutcomeBytes) {
    return { stored: compressOutcomeText(text, limits.compressAboveBytes), answer: result };
  }
  if (limits.onOutcomeTooLarge === 'release') {
    return { stored: undefined, answer: result, tooLargeBytes: bytes };
  }
  const message = `The handler ran, but its outcome (${bytes} bytes) is larger than the ${limits.maxOutcomeBytes} bytes the server keeps for a replay.`;
  const error = new IdempotencyError('OUTCOME_TOO_LARGE', message);
  return {
    stored: encodeError({ code: error.code, message, idempotency: 'OUTCOME_TOO_LARGE' }),
    answer: { ok: false, error, marker: result.marker },
    tooLargeBytes: bytes,
  };
}
