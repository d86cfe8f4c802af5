import { TRPCClientError } from '@trpc/client';
import type { Observer } from '@trpc/server/observable';
import type { IdempotencyResultMeta } from '../events.js';
import { abortReason } from '../signals.js';
import type { ClientError, Envelope } from './sendAttempt.js';

export type Caller = Observer<Envelope, ClientError>;
export type OnResult = (meta: IdempotencyResultMeta) => void;

/** The callers of one attempt sequence: each joins with its own abort signal, all get its one result. */
export interface SharedCallers {
  /**
   * Adds a caller. It gets the result, or an abort error when its own `signal` fires, and its own
   * `onResult` call on success. Returns the caller's teardown.
   */
  join(caller: Caller, signal: AbortSignal | null | undefined, onResult?: OnResult): () => void;
  readonly size: number;
  readonly settled: boolean;
  /** Hands every caller the success; nobody joins after. */
  succeed(envelope: Envelope, meta: IdempotencyResultMeta): void;
  /** Hands every caller the error, or, without one, tells nobody; nobody joins after. */
  fail(error?: ClientError): void;
}

/** `onEmpty` is told when the last caller has left before the end, with the error that made it leave. */
export function sharedCallers(onEmpty: (error: ClientError) => void): SharedCallers {
  const callers = new Map<Caller, { stopListening: () => void; onResult?: OnResult }>();
  let settled = false;
  const leave = (caller: Caller, error?: ClientError) => {
    const joined = callers.get(caller);
    if (!joined) return;
    joined.stopListening();
    callers.delete(caller);
    if (error) caller.error(error);
    if (callers.size === 0) onEmpty(error ?? TRPCClientError.from(new Error('Every caller unsubscribed.')));
  };
  const settle = (deliver: (caller: Caller, onResult: OnResult | undefined) => void) => {
    settled = true;
    const list = [...callers];
    callers.clear();
    for (const [caller, { stopListening, onResult }] of list) {
      stopListening();
      deliver(caller, onResult);
    }
  };
  return {
    get size() {
      return callers.size;
    },
    get settled() {
      return settled;
    },
    join(caller, signal, onResult) {
      if (settled || signal?.aborted) {
        const cause = settled ? new Error('This attempt sequence has already ended.') : abortReason(signal!);
        caller.error(TRPCClientError.from(cause));
        return () => {};
      }
      const onAbort = () => leave(caller, TRPCClientError.from(abortReason(signal!)));
      signal?.addEventListener('abort', onAbort, { once: true });
      callers.set(caller, { stopListening: () => signal?.removeEventListener('abort', onAbort), onResult });
      return () => leave(caller);
    },
    succeed: (envelope, meta) =>
      settle((caller, onResult) => {
        try {
          onResult?.({ ...meta });
        } catch {
          // Like onAttempt: a caller's own hook must never turn its success into a failure.
        }
        caller.next(envelope);
        caller.complete();
      }),
    fail: (error) => settle((caller) => error && caller.error(error)),
  };
}
