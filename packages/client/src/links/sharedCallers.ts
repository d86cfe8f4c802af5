import { TRPCClientError } from '@trpc/client';
import type { Observer } from '@trpc/server/observable';
import type { IdempotencyResultMeta } from '../events.js';
import { abortReason } from '../signals.js';
import type { ClientError, Envelope } from './sendAttempt.js';

type Caller = Observer<Envelope, ClientError>;
type OnResult = (meta: IdempotencyResultMeta) => void;

/** The callers of one attempt sequence: each joins with its own abort signal, all get its one result. */
export interface SharedCallers {
  /**
   * Adds a caller. It gets the result, or an abort error when its own `signal` fires, and its own
   * `onResult` call on success. Returns the caller's teardown.
   */
  join(caller: Caller, signal: AbortSignal | null | undefined, onResult?: OnResult): () => void;
  readonly size: number;
  /** Hands every caller the success, or the error (none: tells nobody). Nobody joins after. */
  settle(result: { envelope: Envelope; meta: IdempotencyResultMeta } | { error?: ClientError }): void;
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
  return {
    get size() {
      return callers.size;
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
    settle(result) {
      settled = true;
      const list = [...callers];
      callers.clear();
      for (const [caller, { stopListening, onResult }] of list) {
        stopListening();
        if (!('envelope' in result)) {
          if (result.error) caller.error(result.error);
          continue;
        }
        try {
          onResult?.({ ...result.meta });
        } catch {
          // Like onAttempt: a caller's own hook must never turn its success into a failure.
        }
        caller.next(result.envelope);
        caller.complete();
      }
    },
  };
}
