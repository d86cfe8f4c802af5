import { TRPCError } from '@trpc/server';
import { decompressOutcomeText } from './compression.js';
import { IdempotencyError } from './errors.js';

/** Turns values into JSON-safe data and back: one direction of a tRPC transformer, such as superjson. */
export interface Serializer {
  serialize(value: any): any;
  deserialize(value: any): any;
}

/** A stored error: one the handler threw on purpose, or the idempotency layer's own (`idempotency` names its code). */
export interface StoredError {
  code: TRPCError['code'];
  message: string;
  /** Set for an error of the idempotency layer, such as `OUTCOME_TOO_LARGE`, so that its replay carries the code. */
  idempotency?: 'OUTCOME_TOO_LARGE';
}

/** An outcome as it is replayed: a success with its data, or a stored error. */
export type StoredOutcome = { ok: true; data: unknown } | { ok: false; error: StoredError };

/** Writes a success as the text the store keeps (`null` data and the `u` flag for `undefined`). */
export function encodeSuccess(serializer: Serializer, data: unknown): string {
  const isUndefined = data === undefined;
  return JSON.stringify({ ok: true, data: isUndefined ? null : serializer.serialize(data), u: isUndefined });
}

/** Writes a stored error as the text the store keeps. */
export function encodeError(error: StoredError): string {
  return JSON.stringify({ ok: false, error });
}

/** Reads an outcome back from the store's text (compressed or not). */
export function decodeOutcome(serializer: Serializer, text: string): StoredOutcome {
  const stored = JSON.parse(decompressOutcomeText(text)) as {
    ok: boolean;
    data?: unknown;
    u?: boolean;
    error?: StoredError;
  };
  if (stored.ok) return { ok: true, data: stored.u ? undefined : serializer.deserialize(stored.data) };
  return { ok: false, error: stored.error! };
}

/** Rebuilds a stored error as the same `TRPCError` the handler threw, or the same idempotency error. */
export function storedErrorToTRPCError(error: StoredError): TRPCError {
  if (error.idempotency) return new IdempotencyError(error.idempotency, error.message);
  return new TRPCError({ code: error.code, message: error.message });
}
