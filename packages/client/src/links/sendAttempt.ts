import { type Operation, type OperationResultEnvelope, TRPCClientError } from '@trpc/client';
import type { Observable, Unsubscribable } from '@trpc/server/observable';
import type { AnyRouter } from '@trpc/server/unstable-core-do-not-import';
import { IDEMPOTENT_REPLAYED_HEADER } from '@trpc-idempotency/protocol';
import { parseRetryAfter } from '../backoff.js';
import type { ObservedResponse, ResponseProbe } from '../responseProbe.js';
import { classifyFailure } from '../retryPolicy.js';
import { AttemptTimeoutError, anyAbortSignal } from '../signals.js';
import type { AttemptHappening } from './attemptPlan.js';

export type ClientError = TRPCClientError<AnyRouter>;
export type Envelope = OperationResultEnvelope<unknown, ClientError>;

/** One request down the rest of the chain, and where its end is told. */
export interface AttemptRequest {
  op: Operation;
  next: (op: Operation) => Observable<Envelope, ClientError>;
  timeoutMs: number;
  /** Aborts the attempt along with the call (every caller left). */
  stop: AbortSignal;
  probe?: ResponseProbe;
  isOnline: () => boolean;
  /** Called once, unless the attempt is dropped first: the planner's happening, with the error or the result. */
  onEnd: (happening: AttemptHappening, error?: ClientError, envelope?: Envelope) => void;
}

/**
 * Sends one attempt with its own timeout and reads how it ended: a success (replayed or not), a timeout,
 * or a failure classified by `classifyFailure`. The link gets a signal of its own, so that its timeout is
 * told apart from the caller's abort. Returns the function that drops the attempt, unanswered.
 */
export function sendAttempt(request: AttemptRequest): () => void {
  const { timeoutMs, probe, onEnd } = request;
  const timeout = new AbortController();
  const combined = anyAbortSignal([request.stop, timeout.signal]);
  let done = false;
  let timedOut = false;
  let envelope: Envelope | undefined;
  let subscription: Unsubscribable | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeoutError = () => new AttemptTimeoutError(timeoutMs);
  // True the first time only: an attempt ends once, by its answer, its timeout or being dropped.
  const finish = () => {
    if (done) return false;
    done = true;
    clearTimeout(timer);
    combined.dispose();
    return true;
  };
  const end = (answered: boolean, cause?: unknown) => {
    const at = performance.now();
    const online = request.isOnline();
    const observed = probe?.read(combined.signal);
    const response = (from: unknown) => (from as { response?: ObservedResponse } | undefined)?.response ?? observed;
    // wsLink completes an aborted request without a result.
    if (answered && envelope) {
      const replayed = response(envelope.context)?.headers?.get?.(IDEMPOTENT_REPLAYED_HEADER) === 'true';
      return onEnd({ type: 'answered', at, ok: true, replayed }, undefined, envelope);
    }
    if (timedOut) return onEnd({ type: 'timed-out', at, online }, TRPCClientError.from(timeoutError()));
    const error = TRPCClientError.from((cause ?? new Error('The request completed without a result.')) as Error);
    const { status, headers } = response(error.meta) ?? {};
    const verdict = classifyFailure({
      data: error.data,
      responseStatus: typeof status === 'number' ? status : undefined,
      retryAfterHeaderMs: parseRetryAfter(headers?.get?.('retry-after')),
      timedOut: false,
      aborted: false,
    });
    onEnd({ type: 'answered', at, ok: false, verdict, online }, error);
  };
  if (Number.isFinite(timeoutMs)) {
    timer = setTimeout(() => {
      timedOut = true;
      timeout.abort(timeoutError());
      // httpLink ends the attempt on the abort and wsLink completes it without a result, but
      // httpBatchLink keeps a call waiting while the other calls of its batch do: the timeout ends it here.
      if (!finish()) return;
      subscription?.unsubscribe();
      end(false);
    }, timeoutMs);
  }
  const op = { ...request.op, signal: combined.signal };
  subscription = request.next(probe ? probe.watch(op) : op).subscribe({
    next: (value) => {
      envelope = value;
    },
    error: (cause) => finish() && end(false, cause),
    complete: () => finish() && end(true),
  });
  return () => finish() && subscription?.unsubscribe();
}
