import { type Operation, type OperationResultEnvelope, TRPCClientError } from '@trpc/client';
import type { Observable, Observer, Unsubscribable } from '@trpc/server/observable';
import type { AnyRouter } from '@trpc/server/unstable-core-do-not-import';
import { IDEMPOTENT_REPLAYED_HEADER } from '@trpc-idempotency/protocol';
import { parseRetryAfter, planInProgressDelay, planRetryDelay } from '../backoff.js';
import type { AttemptEvent, IdempotencyResultMeta } from '../events.js';
import { type OnlineSource, whenOnline } from '../online.js';
import type { ResolvedRetrySettings, Schedule } from '../options.js';
import type { ObservedResponse, ResponseProbe } from '../responseProbe.js';
import { classifyFailure, type FailureReason, type FailureVerdict } from '../retryPolicy.js';
import { AttemptTimeoutError, abortReason, anyAbortSignal } from '../signals.js';

type ClientError = TRPCClientError<AnyRouter>;
type Envelope = OperationResultEnvelope<unknown, ClientError>;
type Caller = Observer<Envelope, ClientError>;
type OnResult = (meta: IdempotencyResultMeta) => void;

/** What one intent's attempts need: the keyed operation, the next link and the call's settings. */
export interface AttemptSequenceArgs {
  /** The operation, with `context.idempotencyKey` already set. */
  op: Operation;
  key: string;
  next: (op: Operation) => Observable<Envelope, ClientError>;
  retry: ResolvedRetrySettings;
  random: () => number;
  schedule: Schedule;
  onAttempt?: (event: AttemptEvent) => void;
  probe?: ResponseProbe;
  /** With it, attempts wait while it is offline, and one that failed while offline is not counted. */
  online?: OnlineSource;
  /** Called once, when the sequence has ended for any reason. */
  onSettled: () => void;
}

/** The attempts of one intent, shared by every caller that joined it. */
export interface AttemptSequence {
  /**
   * Adds a caller. It gets the sequence's result, or an abort error when its own `signal` fires, and its
   * own `onResult` call on success. Returns the caller's teardown; when the last caller leaves, the
   * attempt in flight is aborted and a pending delay is cancelled.
   */
  join(caller: Caller, signal: AbortSignal | null | undefined, onResult?: OnResult): () => void;
  /** Sends the first attempt. Call it after the first `join`. */
  start(): void;
}

/**
 * Creates the attempt loop of docs/protocol.md §4 for one key: same key and input on every attempt.
 * Failures count against `retry.attempts`, except 409 `IN_PROGRESS`: those are waited out by the
 * server's hint for at most `retry.maxInProgressWaitMs`, so that a duplicate of a slow call gets its outcome.
 */
export function createAttemptSequence(args: AttemptSequenceArgs): AttemptSequence {
  const { key, retry } = args;
  const callers = new Map<Caller, { stopListening: () => void; onResult?: OnResult }>();
  const stop = new AbortController();
  let settled = false;
  let attempt = 0;
  let inProgressWaits = 0;
  let offlineWaits = 0;
  let firstInProgressAt: number | undefined;
  let attemptStartedAt = 0;
  let inFlight: Unsubscribable | undefined;
  let cancelDelay: (() => void) | undefined;
  let endAttempt: (() => void) | undefined;

  const report = (event: Omit<AttemptEvent, 'key' | 'path' | 'attempt' | 'maxAttempts'>) => {
    if (!args.onAttempt) return;
    try {
      args.onAttempt({ key, path: args.op.path, attempt, maxAttempts: retry.attempts, ...event });
    } catch {
      // A progress or logging hook must never change the outcome of the call.
    }
  };
  const elapsed = () => Math.max(0, Math.round(now() - attemptStartedAt));

  const settle = (deliver: (caller: Caller, onResult: OnResult | undefined) => void) => {
    settled = true;
    endAttempt?.();
    cancelDelay?.();
    const list = [...callers];
    callers.clear();
    for (const [caller, { stopListening, onResult }] of list) {
      stopListening();
      deliver(caller, onResult);
    }
    args.onSettled();
  };

  const abandon = (error: ClientError) => {
    if (settled) return;
    report({ outcome: 'aborted', delayMs: 0, durationMs: elapsed(), reason: 'aborted', error });
    settle(() => {});
    stop.abort(error);
    inFlight?.unsubscribe();
  };

  const leave = (caller: Caller, error?: ClientError) => {
    const joined = callers.get(caller);
    if (!joined) return;
    joined.stopListening();
    callers.delete(caller);
    if (error) caller.error(error);
    if (callers.size === 0) abandon(error ?? TRPCClientError.from(new Error('Every caller unsubscribed.')));
  };

  const succeed = (envelope: Envelope | undefined, observed: ObservedResponse | undefined) => {
    if (!envelope) {
      fail(TRPCClientError.from(new Error('The request completed without a result.')), false, observed);
      return;
    }
    const response = (envelope.context as { response?: ObservedResponse } | undefined)?.response ?? observed;
    const replayed = response?.headers?.get?.(IDEMPOTENT_REPLAYED_HEADER) === 'true';
    report({ outcome: 'succeeded', delayMs: 0, durationMs: elapsed(), replayed });
    const meta: IdempotencyResultMeta = { key, path: args.op.path, replayed, attempts: attempt };
    settle((caller, onResult) => {
      if (onResult) {
        try {
          onResult({ ...meta });
        } catch {
          // Like onAttempt: a caller's own hook must never turn its success into a failure.
        }
      }
      caller.next(envelope);
      caller.complete();
    });
  };

  // The wait before the next attempt, or undefined when this failure ends the call.
  const planNextAttempt = (verdict: FailureVerdict): number | undefined => {
    if (verdict.reason === 'in_progress') {
      firstInProgressAt ??= now();
      const budgetLeftMs = retry.maxInProgressWaitMs - (now() - firstInProgressAt);
      if (budgetLeftMs <= 0) return undefined;
      inProgressWaits += 1;
      return planInProgressDelay(inProgressWaits, retry, verdict.retryAfterMs, budgetLeftMs, args.random);
    }
    const counted = attempt - inProgressWaits - offlineWaits;
    if (counted >= retry.attempts) return undefined;
    return planRetryDelay(counted, retry, verdict.retryAfterMs, args.random);
  };

  const fail = (error: ClientError, timedOut: boolean, observed: ObservedResponse | undefined) => {
    const response = (error.meta as { response?: ObservedResponse } | undefined)?.response ?? observed;
    const verdict = classifyFailure({
      data: error.data,
      responseStatus: typeof response?.status === 'number' ? response.status : undefined,
      retryAfterHeaderMs: parseRetryAfter(response?.headers?.get?.('retry-after')),
      timedOut,
      aborted: false,
    });
    const facts = { durationMs: elapsed(), reason: verdict.reason as FailureReason, status: verdict.status, error };
    // No answer because the network is gone: wait for it, without using up an attempt.
    if ((verdict.reason === 'network' || verdict.reason === 'timeout') && args.online && !args.online.isOnline()) {
      offlineWaits += 1;
      report({ ...facts, outcome: 'retrying', delayMs: 0, reason: 'offline' });
      send();
      return;
    }
    const delayMs = verdict.retryable ? planNextAttempt(verdict) : undefined;
    if (delayMs !== undefined) {
      report({ outcome: 'retrying', delayMs, ...facts });
      cancelDelay = args.schedule(() => {
        cancelDelay = undefined;
        send();
      }, delayMs);
      return;
    }
    report({ outcome: 'failed', delayMs: 0, ...facts });
    settle((caller) => caller.error(error));
  };

  /** Sends the next attempt, once the network is there. */
  function send(): void {
    if (settled) return;
    if (!args.online || args.online.isOnline()) {
      sendNow();
      return;
    }
    whenOnline(args.online, stop.signal).then(sendNow, () => {
      // Every caller left while offline: abandon() has already settled the sequence.
    });
  }

  function sendNow(): void {
    if (settled) return;
    attempt += 1;
    attemptStartedAt = now();
    const timeout = new AbortController();
    let timedOut = false;
    let subscription: Unsubscribable | undefined;
    const timeoutError = () => TRPCClientError.from(new AttemptTimeoutError(retry.attemptTimeoutMs));
    const timer = Number.isFinite(retry.attemptTimeoutMs)
      ? setTimeout(() => {
          timedOut = true;
          timeout.abort(new AttemptTimeoutError(retry.attemptTimeoutMs));
          // httpLink ends the attempt on the abort and wsLink completes it without a result, but
          // httpBatchLink keeps a call waiting while the other calls of its batch do: the timeout ends it here.
          if (done || settled) return;
          finish();
          subscription?.unsubscribe();
          fail(timeoutError(), true, args.probe?.read(combined.signal));
        }, retry.attemptTimeoutMs)
      : undefined;
    // The link owns this signal, so its timeout is told apart from the caller's abort.
    const combined = anyAbortSignal([stop.signal, timeout.signal]);
    let done = false;
    const finish = () => {
      done = true;
      clearTimeout(timer);
      combined.dispose();
      endAttempt = undefined;
    };
    endAttempt = finish;
    const attemptOp = { ...args.op, signal: combined.signal };
    report({ outcome: 'started', delayMs: 0 });

    let envelope: Envelope | undefined;
    subscription = args.next(args.probe ? args.probe.watch(attemptOp) : attemptOp).subscribe({
      next(value) {
        envelope = value;
      },
      error(cause) {
        if (done || settled) return;
        finish();
        fail(timedOut ? timeoutError() : TRPCClientError.from(cause), timedOut, args.probe?.read(combined.signal));
      },
      complete() {
        if (done || settled) return;
        finish();
        // wsLink completes an aborted request without a result.
        if (timedOut && !envelope) fail(timeoutError(), true, args.probe?.read(combined.signal));
        else succeed(envelope, args.probe?.read(combined.signal));
      },
    });
    // An attempt that ended synchronously may already have scheduled the next one.
    if (!done) inFlight = subscription;
  }

  return {
    join(caller, signal, onResult) {
      if (settled) {
        caller.error(TRPCClientError.from(new Error('This attempt sequence has already ended.')));
        return () => {};
      }
      if (signal?.aborted) {
        caller.error(TRPCClientError.from(abortReason(signal)));
        return () => {};
      }
      const onAbort = () => leave(caller, TRPCClientError.from(abortReason(signal!)));
      signal?.addEventListener('abort', onAbort, { once: true });
      callers.set(caller, { stopListening: () => signal?.removeEventListener('abort', onAbort), onResult });
      return () => leave(caller);
    },
    start() {
      if (callers.size === 0) {
        if (!settled) settle(() => {});
        return;
      }
      send();
    },
  };
}

function now(): number {
  return typeof performance !== 'undefined' ? performance.now() : Date.now();
}
