import type { Operation } from '@trpc/client';
import type { Observable } from '@trpc/server/observable';
import type { AttemptEvent } from '../events.js';
import { type OnlineSource, whenOnline } from '../online.js';
import type { ResolvedRetrySettings, Schedule } from '../options.js';
import type { ResponseProbe } from '../responseProbe.js';
import { type AttemptHappening, INITIAL_ATTEMPT_STATE, planAttempt } from './attemptPlan.js';
import { type ClientError, type Envelope, sendAttempt } from './sendAttempt.js';
import { type SharedCallers, sharedCallers } from './sharedCallers.js';

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

/**
 * The attempts of one intent, shared by every caller that joined it; when the last caller leaves, the
 * attempt in flight is aborted and a pending delay is cancelled. Call `start` after the first `join`.
 */
export type AttemptSequence = Pick<SharedCallers, 'join'> & { start(): void };

/**
 * Drives the planner of attemptPlan.ts for one key (docs/protocol.md §4): feeds it each happening and
 * carries out the step that comes back, with timers, the next link and abort signals.
 */
export function createAttemptSequence(args: AttemptSequenceArgs): AttemptSequence {
  const { key, retry, op } = args;
  const stop = new AbortController();
  const callers = sharedCallers((error) => happen({ type: 'aborted', at: performance.now() }, error));
  const isOnline = () => !args.online || args.online.isOnline();
  let state = INITIAL_ATTEMPT_STATE;
  // Drops the attempt in flight or cancels the delay, unless one that ended at once took the next step.
  let cancel: (() => void) | undefined;
  let steps = 0;
  const keep = (taken: number, drop: () => void) => {
    if (steps === taken) cancel = drop;
  };
  const settle = (result: Parameters<SharedCallers['settle']>[0]) => {
    cancel?.();
    callers.settle(result);
    args.onSettled();
  };

  function happen(event: AttemptHappening, error?: ClientError, envelope?: Envelope): void {
    const { state: next, step, report } = planAttempt(state, event, { retry, random: args.random });
    state = next;
    const taken = ++steps;
    try {
      const failure = report?.outcome === 'started' || report?.outcome === 'succeeded' ? {} : { error };
      if (report) args.onAttempt?.({ key, path: op.path, maxAttempts: retry.attempts, ...report, ...failure });
    } catch {
      // A progress or logging hook must never change the outcome of the call.
    }
    const at = () => performance.now();
    if (step.type === 'send' || step.type === 'wait' || step.type === 'wait-online') cancel = undefined;
    if (step.type === 'send') {
      // The caller's context stays as it was: an attempt that asks the server to wait gets a copy.
      const wait = step.preferWaitSeconds;
      const sent = wait ? { ...op, context: { ...op.context, idempotencyPreferWait: wait } } : op;
      const attempt = { next: args.next, timeoutMs: retry.attemptTimeoutMs, stop: stop.signal, probe: args.probe };
      keep(taken, sendAttempt({ ...attempt, op: sent, isOnline, onEnd: happen }));
    } else if (step.type === 'wait') {
      keep(
        taken,
        args.schedule(() => happen({ type: 'delay-elapsed', at: at(), online: isOnline() }), step.delayMs),
      );
    } else if (step.type === 'wait-online') {
      // A refusal means every caller left while offline: the abort has already settled the sequence.
      whenOnline(args.online!, stop.signal).then(
        () => happen({ type: 'online', at: at() }),
        () => {},
      );
    } else if (step.type === 'succeed') {
      settle({ envelope: envelope!, meta: { key, path: op.path, replayed: step.replayed, attempts: step.attempts } });
    } else if (step.type === 'fail' || step.type === 'abandon') {
      settle(step.type === 'fail' ? { error } : {});
      if (step.type === 'abandon') stop.abort(error);
    }
  }

  return {
    join: callers.join,
    start() {
      if (callers.size > 0) happen({ type: 'start', at: performance.now(), online: isOnline() });
      else if (state.phase === 'idle') settle({});
    },
  };
}
