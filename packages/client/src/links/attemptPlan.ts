import { planInProgressDelay, planRetryDelay } from '../backoff.js';
import type { AttemptEvent } from '../events.js';
import type { ResolvedRetrySettings } from '../options.js';
import { classifyFailure, type FailureVerdict } from '../retryPolicy.js';

/**
 * The attempt loop of docs/protocol.md §4 as a pure planner: {@link planAttempt} takes the loop's state
 * and what just happened, and answers the new state and the one step to take next. No timers, no I/O:
 * times come in with the events and jitter from `random`, so a table of rows tests every rule.
 */

/** Where one intent's attempts stand. Changed only by {@link planAttempt}. */
export interface AttemptState {
  phase: 'idle' | 'sending' | 'delaying' | 'offline' | 'done';
  /** Requests sent so far, those answered `IN_PROGRESS` and those that failed offline included. */
  attempt: number;
  inProgressWaits: number;
  offlineWaits: number;
  /** When the first `IN_PROGRESS` answer came: the start of the `maxInProgressWaitMs` budget. */
  firstInProgressAt?: number;
  /** When the latest attempt was sent. */
  sentAt: number;
}

/** What happened, with the time it happened (ms, any clock) and whether the network is there now. */
export type AttemptHappening =
  | { type: 'start' | 'delay-elapsed'; at: number; online: boolean }
  | { type: 'online' | 'aborted' | 'timed-out'; at: number; online?: boolean }
  | { type: 'answered'; at: number; ok: true; replayed: boolean }
  | { type: 'answered'; at: number; ok: false; verdict: FailureVerdict; online: boolean };

/** What to do next. */
export type AttemptStep =
  | { type: 'send'; attempt: number }
  | { type: 'wait'; delayMs: number }
  | { type: 'wait-online' }
  | { type: 'succeed'; attempts: number; replayed: boolean }
  /** End the call with the latest attempt's error. */
  | { type: 'fail' }
  /** Every caller left: stop, and tell no one. */
  | { type: 'abandon' }
  /** Nothing: the happening came too late, or in a phase it means nothing in. */
  | { type: 'none' };

/** The part of an `onAttempt` event the planner decides; the driver adds key, path, limits and the error. */
export type AttemptReport = Omit<AttemptEvent, 'key' | 'path' | 'maxAttempts' | 'error'>;

export interface AttemptPlan {
  state: AttemptState;
  step: AttemptStep;
  report?: AttemptReport;
}

/** The settings the planner follows. */
export interface AttemptRules {
  retry: ResolvedRetrySettings;
  /** Source of jitter, a number in `[0, 1)`. */
  random: () => number;
}

export const INITIAL_ATTEMPT_STATE: AttemptState = Object.freeze({
  phase: 'idle',
  attempt: 0,
  inProgressWaits: 0,
  offlineWaits: 0,
  sentAt: 0,
});

// The phase in which each happening means something (an abort, any but `done`); elsewhere it means nothing.
const EXPECTED: Partial<Record<AttemptHappening['type'], AttemptState['phase']>> = {
  start: 'idle',
  'delay-elapsed': 'delaying',
  online: 'offline',
  answered: 'sending',
  'timed-out': 'sending',
};

/**
 * The next step of one intent's attempts (docs/protocol.md §4). Same key and input on every attempt; the
 * driver sends `args.op` each time. Failures count against `retry.attempts`, except `IN_PROGRESS` (waited
 * out by the server's hint within `maxInProgressWaitMs`) and failures while offline (waited out until the
 * network is back).
 */
export function planAttempt(state: AttemptState, event: AttemptHappening, rules: AttemptRules): AttemptPlan {
  const { type, at } = event;
  if (state.phase === 'done' || (EXPECTED[type] ?? state.phase) !== state.phase) return to(state, { type: 'none' });
  const durationMs = Math.max(0, Math.round(at - state.sentAt));
  const done = { ...state, phase: 'done' } as const;
  if (type === 'aborted')
    return to(done, { type: 'abandon' }, report(state, 'aborted', { durationMs, reason: 'aborted' }));
  if (type === 'answered' && event.ok) {
    const { replayed } = event;
    const succeeded = report(state, 'succeeded', { durationMs, replayed });
    return to(done, { type: 'succeed', attempts: state.attempt, replayed }, succeeded);
  }
  if (type === 'answered' || type === 'timed-out') {
    const verdict = type === 'answered' ? event.verdict : classifyFailure({ timedOut: true, aborted: false });
    return planAfterFailure(state, verdict, { at, durationMs, online: event.online !== false }, rules);
  }
  if (type !== 'online' && !event.online) return to({ ...state, phase: 'offline' }, { type: 'wait-online' });
  const attempt = state.attempt + 1;
  const sending: AttemptState = { ...state, phase: 'sending', attempt, sentAt: at };
  return to(sending, { type: 'send', attempt }, report(sending, 'started', {}));
}

function planAfterFailure(
  state: AttemptState,
  verdict: FailureVerdict,
  { at, durationMs, online }: { at: number; durationMs: number; online: boolean },
  { retry, random }: AttemptRules,
): AttemptPlan {
  const facts = { durationMs, reason: verdict.reason, status: verdict.status };
  // No answer because the network is gone: wait for it, without using up an attempt.
  if ((verdict.reason === 'network' || verdict.reason === 'timeout') && !online) {
    const offline = { ...state, phase: 'offline', offlineWaits: state.offlineWaits + 1 } as const;
    return to(offline, { type: 'wait-online' }, report(state, 'retrying', { ...facts, reason: 'offline' }));
  }
  let next: AttemptState = state;
  let delayMs: number | undefined;
  if (verdict.retryable && verdict.reason === 'in_progress') {
    const firstInProgressAt = state.firstInProgressAt ?? at;
    const budgetLeftMs = retry.maxInProgressWaitMs - (at - firstInProgressAt);
    const waits = state.inProgressWaits + 1;
    next = { ...state, firstInProgressAt, inProgressWaits: waits };
    if (budgetLeftMs > 0) delayMs = planInProgressDelay(waits, retry, verdict.retryAfterMs, budgetLeftMs, random);
  } else if (verdict.retryable) {
    const counted = state.attempt - state.inProgressWaits - state.offlineWaits;
    if (counted < retry.attempts) delayMs = planRetryDelay(counted, retry, verdict.retryAfterMs, random);
  }
  if (delayMs === undefined) return to({ ...state, phase: 'done' }, { type: 'fail' }, report(state, 'failed', facts));
  return to(
    { ...next, phase: 'delaying' },
    { type: 'wait', delayMs },
    report(state, 'retrying', { ...facts, delayMs }),
  );
}

const to = (state: AttemptState, step: AttemptStep, report?: AttemptReport): AttemptPlan =>
  report ? { state, step, report } : { state, step };

const report = (state: AttemptState, outcome: AttemptReport['outcome'], facts: Partial<AttemptReport>) =>
  ({ attempt: state.attempt, outcome, delayMs: 0, ...facts }) as AttemptReport;
