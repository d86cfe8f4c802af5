import { TRPCError } from '@trpc/server';

/** Turns values into JSON-safe data and back: one direction of a tRPC transformer, such as superjson. */
export interface Serializer {
  serialize(value: any): any;
  deserialize(value: any): any;
}

/** An outcome as it is replayed: a success with its data, or the error the handler threw on purpose. */
export type StoredOutcome =
  | { ok: true; data: unknown }
  | { ok: false; error: { code: TRPCError['code']; message: string } };

/** Writes an outcome as the text the store keeps. */
export function encodeOutcome(serializer: Serializer, outcome: StoredOutcome): string {
  if (outcome.ok)
    return JSON.stringify({
      ok: true,
      data: outcome.data === undefined ? null : serializer.serialize(outcome.data),
      u: outcome.data === undefined,
    });
  return JSON.stringify(outcome);
}

/** Reads an outcome back from the store's text. */
export function decodeOutcome(serializer: Serializer, text: string): StoredOutcome {
  const stored = JSON.parse(text) as {
    ok: boolean;
    data?: unknown;
    u?: boolean;
    error?: { code: TRPCError['code']; message: string };
  };
  if (stored.ok) return { ok: true, data: stored.u ? undefined : serializer.deserialize(stored.data) };
  return { ok: false, error: stored.error! };
}

/** Rebuilds a stored error as the same `TRPCError` the handler threw. */
export function storedErrorToTRPCError(error: { code: TRPCError['code']; message: string }): TRPCError {
  return new TRPCError({ code: error.code, message: error.message });
}
