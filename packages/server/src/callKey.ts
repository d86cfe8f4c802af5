import { type KeyInvalidReason, parseBatchKeys, parseIdempotencyKey } from '@trpc-idempotency/protocol';
import type { IdempotencyRequest } from './requestContext.js';

/** A call's key, or why it has none that can be used (docs/protocol.md §1, §1b). */
export type CallKey =
  | { ok: true; key: string }
  | { ok: false; code: 'KEY_MISSING'; message: string }
  | { ok: false; code: 'KEY_INVALID'; reason: KeyInvalidReason; message: string };

/** Where a call's key may be: the request's headers, and the envelope of its input if it came in one. */
export interface KeySources {
  /** `ctx.idempotencyRequest`, absent when no context helper was spread into the context. */
  request: IdempotencyRequest | undefined;
  /** The key of the input's envelope as it came (any type), or `undefined` when the input had none. */
  envelopeKey: unknown;
  /** The call's index in its batch, from tRPC (11.10 and later); `undefined` on older releases. */
  batchIndex: number | undefined;
}

const NO_HELPER =
  'This mutation needs an idempotency key, and the context carries none: spread nodeIdempotencyContext(opts) or ' +
  'fetchIdempotencyContext(opts) into createContext, or callerIdempotencyContext(key) into the context of a ' +
  'server-side caller.';

/**
 * Picks the key of one call. An envelope's key names its own operation; headers name the calls of an
 * HTTP request: `Idempotency-Key` an unbatched one, `Idempotency-Batch-Keys` each call of a batch by its
 * batch index. Whatever could give one key to two calls, or one call two keys, is refused.
 */
export function findCallKey({ request, envelopeKey, batchIndex }: KeySources): CallKey {
  const fromHeaders = request ? keyFromHeaders(request, batchIndex) : undefined;
  if (fromHeaders && !fromHeaders.ok && fromHeaders.code === 'KEY_INVALID') return fromHeaders;
  if (envelopeKey !== undefined) {
    const inBand = parseIdempotencyKey(typeof envelopeKey === 'string' ? envelopeKey : '');
    // A non-string key is checked as the empty string: it breaks the format rule.
    if (!inBand.ok) return inBand;
    if (fromHeaders?.ok && fromHeaders.key !== inBand.key) return conflicting();
    return inBand;
  }
  if (fromHeaders) return fromHeaders;
  return { ok: false, code: 'KEY_MISSING', message: NO_HELPER };
}

function keyFromHeaders(request: IdempotencyRequest, batchIndex: number | undefined): CallKey {
  const single = parseIdempotencyKey(...request.keyHeaders);
  if (request.transport === 'ws') {
    if (single.ok || single.code === 'KEY_INVALID') {
      return {
        ok: false,
        code: 'KEY_INVALID',
        reason: 'connection',
        message:
          "An idempotency key on a WebSocket's connection request would name every mutation of the connection; " +
          "send each mutation's key with the operation (idempotencyLink({ keyIn: 'input' })).",
      };
    }
    return {
      ok: false,
      code: 'KEY_MISSING',
      message:
        "This mutation needs an idempotency key; over a WebSocket it travels with the operation (idempotencyLink({ keyIn: 'input' })).",
    };
  }
  const batchHeader = request.batchKeys;
  if (batchHeader === undefined || batchHeader === null) {
    if (single.ok && request.callCount > 1) {
      return ambiguous(
        `one Idempotency-Key header came with a batch of ${request.callCount} calls; send Idempotency-Batch-Keys, or keyed mutations unbatched`,
      );
    }
    return single;
  }
  const batch = parseBatchKeys(batchHeader);
  if (!batch.ok) return ambiguous(batch.message.replace(/\.$/, ''));
  if (batchIndex === undefined && request.callCount > 1) {
    return ambiguous(
      'this tRPC release does not tell a middleware which call of a batch it runs (batchIndex came with tRPC 11.10); send keyed mutations unbatched',
    );
  }
  const index = batchIndex ?? 0;
  const batchKey = batch.keys.get(index);
  if (single.ok || single.code === 'KEY_INVALID') {
    // Both forms at once are only readable for a single call, and only when they agree.
    if (request.callCount > 1)
      return ambiguous('a request of several calls carries both Idempotency-Key and Idempotency-Batch-Keys');
    return parseIdempotencyKey(...request.keyHeaders, batchKey);
  }
  if (batchKey === undefined) {
    return {
      ok: false,
      code: 'KEY_MISSING',
      message: `This mutation needs an idempotency key; Idempotency-Batch-Keys names none for batch index ${index}.`,
    };
  }
  return { ok: true, key: batchKey };
}

function ambiguous(problem: string): CallKey {
  return {
    ok: false,
    code: 'KEY_INVALID',
    reason: 'ambiguous',
    message: `The keys of this batch cannot be told apart: ${problem}.`,
  };
}

function conflicting(): CallKey {
  return {
    ok: false,
    code: 'KEY_INVALID',
    reason: 'conflicting',
    message: 'The request carries more than one different idempotency key.',
  };
}
