import { planInProgressDelay, planRetryDelay } from '../backoff.js';
import type { AttemptEvent } from '../events.js';
import type { ResolvedRetrySettings } from '../options.js';
import { classifyFailure, type FailureVerdict } from '../retryPolicy.js';

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
  /** The latest answer was `IN_PROGRESS`: the next attempt asks the server to wait for the outcome. */
  afterInProgress?: boolean;
}

/** What happened, when (ms, any clock), and whether the network is there now. */
export type AttemptHappening =
  | { type: 'start' | 'delay-elapsed'; at: number; online: boolean }
  | { type: 'online' | 'aborted' | 'timed-out'; at: number; online?: boolean }
  | { type: 'answered'; at: number; ok: true; replayed: boolean }
  | { type: 'answered'; at: number; ok: false; verdict: FailureVerdict; online: boolean };

/** What to do next: `fail` ends the call with the latest error, `abandon` tells no one, `none` does nothing. */
export type AttemptStep =
  /** With `preferWaitSeconds`, the attempt asks `Prefer: wait=<seconds>` (docs/protocol.md §4). */
  | { type: 'send'; attempt: number; preferWaitSeconds?: number }
  | { type: 'wait'; delayMs: number }
  | { type: 'succeed'; attempts: number; replayed: boolean }
  | { type: 'wait-online' | 'fail' | 'abandon' | 'none' };

/** The part of an `onAttempt` event the planner decides; the driver adds key, path, limits and the error. */
export type AttemptReport = Omit<AttemptEvent, 'key' | 'path' | 'maxAttempts' | 'error'>;
export type AttemptPlan = { state: AttemptState; step: AttemptStep; report?: AttemptReport };
export type AttemptRules = { retry: ResolvedRetrySettings; random: () => number };

/** The longest `Prefer: wait` an attempt asks for: past it, proxies start to drop idle requests. */
export const MAX_PREFER_WAIT_SECONDS = 30;

export const INITIAL_ATTEMPT_STATE: AttemptState = Object.freeze({
  phase: 'idle',
  attempt: 0,
  inProgressWaits: 0,
  offlineWaits: 0,
  sentAt: 0,
});

// The phase in which each happening means something (an abort: any but `done`); elsewhere it means nothing.
const EXPECTED: Partial<Record<AttemptHappening['type'], AttemptState['phase']>> = {
  start: 'idle',
  'delay-elapsed': 'delaying',
  online: 'offline',
  answered: 'sending',
  'timed-out': 'sending',
};

/**
 * The attempt loop of docs/protocol.md §4 as a pure planner: the loop's state and what just happened in,
 * the new state and the one step to take out. No timers and no I/O (times come with the happenings,
 * jitter from `rules.random`), so a table tests each rule. The driver sends the same operation, key and
 * input on every attempt. Failures count against `retry.attempts`, except `IN_PROGRESS` (waited out by
 * the server's hint within `maxInProgressWaitMs`) and failures while offline (waited out until it is back).
 */
export function planAttempt(state: AttemptState, event: AttemptHappening, rules: AttemptRules): AttemptPlan {
  const { type, at } = event;
  if (state.phase === 'done' || (EXPECTED[type] ?? state.phase) !== state.phase) return to(state, { type: 'none' });
  const durationMs = Math.max(0, Math.round(at - state.sentAt));
  const done = { ...state, phase: 'done' } as const;
  if (type === 'aborted') return to(done, { type: 'abandon' }, 'aborted', { durationMs, reason: 'aborted' });
  if (type === 'answered' && event.ok) {
    const { replayed } = event;
    return to(done, { type: 'succeed', attempts: state.attempt, replayed }, 'succeeded', { durationMs, replayed });
  }
  if (type === 'answered' || type === 'timed-out') {
    const verdict = type === 'answered' ? event.verdict : classifyFailure({ timedOut: true, aborted: false });
    return planAfterFailure(state, verdict, { at, durationMs, online: event.online !== false }, rules);
  }
  if (type !== 'online' && !event.online) return to({ ...state, phase: 'offline' }, { type: 'wait-online' });
  const sending = {
    ...state,
    phase: 'sending',
    attempt: state.attempt + 1,
    sentAt: at,
    afterInProgress: false,
  } as const;
  const preferWaitSeconds = state.afterInProgress ? preferWait(state, at, rules.retry) : undefined;
  return to(
    sending,
    { type: 'send', attempt: sending.attempt, ...(preferWaitSeconds && { preferWaitSeconds }) },
    'started',
  );
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
    return to(offline, { type: 'wait-online' }, 'retrying', { ...facts, reason: 'offline' });
  }
  let next: AttemptState = state;
  let delayMs: number | undefined;
  if (verdict.retryable && verdict.reason === 'in_progress') {
    const firstInProgressAt = state.firstInProgressAt ?? at;
    const budgetLeftMs = retry.maxInProgressWaitMs - (at - firstInProgressAt);
    const waits = state.inProgressWaits + 1;
    next = { ...state, firstInProgressAt, inProgressWaits: waits, afterInProgress: true };
    if (budgetLeftMs > 0) delayMs = planInProgressDelay(waits, retry, verdict.retryAfterMs, budgetLeftMs, random);
  } else if (verdict.retryable) {
    const counted = state.attempt - state.inProgressWaits - state.offlineWaits;
    if (counted < retry.attempts) delayMs = planRetryDelay(counted, retry, verdict.retryAfterMs, random);
  }
  if (delayMs === undefined) return to({ ...state, phase: 'done' }, { type: 'fail' }, 'failed', facts);
  return to({ ...next, phase: 'delaying' }, { type: 'wait', delayMs }, 'retrying', { ...facts, delayMs });
}

/**
 * The `Prefer: wait` after `IN_PROGRESS`, in whole seconds: what is left of the wait budget, at most half the
 * attempt's timeout (so that the server's answer comes before the attempt is given up) and
 * {@link MAX_PREFER_WAIT_SECONDS}; none under a second.
 */
function preferWait(state: AttemptState, at: number, retry: ResolvedRetrySettings): number | undefined {
  const budgetLeftMs = retry.maxInProgressWaitMs - (at - (state.firstInProgressAt ?? at));
  const seconds = Math.floor(Math.min(budgetLeftMs, retry.attemptTimeoutMs / 2, MAX_PREFER_WAIT_SECONDS * 1000) / 1000);
  return seconds >= 1 ? seconds : undefined;
}

/** The plan, and its report for `onAttempt` (about the attempt `state` counts up to) when there is one. */
function to(state: AttemptState, step: AttemptStep, outcome?: AttemptEvent['outcome'], facts = {}): AttemptPlan {
  return outcome ? { state, step, report: { attempt: state.attempt, outcome, delayMs: 0, ...facts } } : { state, step };
}
