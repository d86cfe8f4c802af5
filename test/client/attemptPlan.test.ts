import { TRPCClientError } from '@trpc/client';
import { observable } from '@trpc/server/observable';
import {
  classifyFailure,
  DEFAULT_RETRY_SETTINGS,
  type FailedAttempt,
  type RetrySettings,
} from '@trpc-idempotency/client';
import { describe, expect, it } from 'vitest';
import {
  type AttemptHappening,
  type AttemptPlan,
  type AttemptReport,
  type AttemptStep,
  INITIAL_ATTEMPT_STATE,
  planAttempt,
} from '../../packages/client/src/links/attemptPlan.js';
import { createAttemptSequence } from '../../packages/client/src/links/attemptSequence.js';

/**
 * The attempt loop of docs/protocol.md §4, one row per rule: a list of happenings fed to the pure planner
 * from its first state, and the steps it answers. Times are ms on a made-up clock; failures are classified
 * by the real `classifyFailure`, so each row reads as what the server answered.
 */

const sdk = (code: string, httpStatus: number, retryAfterMs?: number): FailedAttempt => ({
  data: { code: 'X', httpStatus, idempotency: retryAfterMs === undefined ? { code } : { code, retryAfterMs } },
  timedOut: false,
  aborted: false,
});
const status = (httpStatus: number, retryAfterHeaderMs?: number): FailedAttempt => ({
  data: { code: 'X', httpStatus },
  timedOut: false,
  aborted: false,
  ...(retryAfterHeaderMs === undefined ? {} : { retryAfterHeaderMs }),
});
const NETWORK: FailedAttempt = { timedOut: false, aborted: false };

const start = (at = 0, online = true): AttemptHappening => ({ type: 'start', at, online });
const elapsed = (at: number, online = true): AttemptHappening => ({ type: 'delay-elapsed', at, online });
const failed = (at: number, facts: FailedAttempt, online = true): AttemptHappening => ({
  type: 'answered',
  at,
  ok: false,
  verdict: classifyFailure(facts),
  online,
});
const ok = (at: number, replayed = false): AttemptHappening => ({ type: 'answered', at, ok: true, replayed });
const timedOut = (at: number): AttemptHappening => ({ type: 'timed-out', at, online: true });
const aborted = (at: number): AttemptHappening => ({ type: 'aborted', at });
const backOnline = (at: number): AttemptHappening => ({ type: 'online', at });

const send = (attempt: number, preferWaitSeconds?: number): AttemptStep =>
  preferWaitSeconds === undefined ? { type: 'send', attempt } : { type: 'send', attempt, preferWaitSeconds };
const wait = (delayMs: number): AttemptStep => ({ type: 'wait', delayMs });
const FAIL: AttemptStep = { type: 'fail' };
const NONE: AttemptStep = { type: 'none' };

/** Feeds the happenings in order and returns every plan. */
function walk(happenings: AttemptHappening[], settings: RetrySettings = {}, random = () => 0.5): AttemptPlan[] {
  const rules = { retry: { ...DEFAULT_RETRY_SETTINGS, jitter: 'none' as const, ...settings }, random };
  let state = INITIAL_ATTEMPT_STATE;
  return happenings.map((happening) => {
    const plan = planAttempt(state, happening, rules);
    state = plan.state;
    return plan;
  });
}
const steps = (...args: Parameters<typeof walk>) => walk(...args).map((plan) => plan.step);

describe('the attempt planner, one row per rule of docs/protocol.md §4', () => {
  it.each<[string, AttemptHappening[], RetrySettings, AttemptStep[]]>([
    [
      'a network failure is retried after the backoff',
      [start(), failed(30, NETWORK), elapsed(280), ok(300)],
      {},
      [send(1), wait(250), send(2), { type: 'succeed', attempts: 2, replayed: false }],
    ],
    [
      "the attempt's own timeout is retried",
      [start(), timedOut(10_000), elapsed(10_250)],
      {},
      [send(1), wait(250), send(2)],
    ],
    ['a 5xx is retried', [start(), failed(5, status(500)), elapsed(300)], {}, [send(1), wait(250), send(2)]],
    [
      'the delay before retry n is min(cap, base * 2^(n-1))',
      [start(), failed(0, status(502)), elapsed(0), failed(0, status(502)), elapsed(0), failed(0, status(502))],
      { baseDelayMs: 100, maxDelayMs: 300 },
      [send(1), wait(100), send(2), wait(200), send(3), wait(300)],
    ],
    [
      'a failure that uses up the last attempt ends the call',
      [start(), failed(0, status(503)), elapsed(250), failed(300, status(503))],
      { attempts: 2 },
      [send(1), wait(250), send(2), FAIL],
    ],
    [
      "IN_PROGRESS is waited by the server's retryAfterMs, never using up attempts",
      [start(), failed(0, sdk('IN_PROGRESS', 409, 120)), elapsed(120), failed(130, sdk('IN_PROGRESS', 409, 900))],
      { attempts: 1 },
      [send(1), wait(120), send(2, 5), wait(900)],
    ],
    [
      'IN_PROGRESS is waited within a total wait budget, cut to what is left of it, then ends the call',
      [
        start(),
        failed(0, sdk('IN_PROGRESS', 409, 2000)),
        elapsed(2000),
        failed(2000, sdk('IN_PROGRESS', 409, 2000)),
        elapsed(2500),
        failed(2500, sdk('IN_PROGRESS', 409, 2000)),
      ],
      { maxInProgressWaitMs: 2500, attempts: 10 },
      [send(1), wait(2000), send(2), wait(500), send(3), FAIL],
    ],
    [
      'IN_PROGRESS with no budget at all is final',
      [start(), failed(0, sdk('IN_PROGRESS', 409, 100))],
      { maxInProgressWaitMs: 0 },
      [send(1), FAIL],
    ],
    [
      'failures other than IN_PROGRESS still count, whatever IN_PROGRESS answers came between them',
      [
        start(),
        failed(0, status(503)),
        elapsed(250),
        failed(250, sdk('IN_PROGRESS', 409, 70)),
        elapsed(320),
        failed(320, status(503)),
      ],
      { attempts: 2 },
      [send(1), wait(250), send(2), wait(70), send(3, 5), FAIL],
    ],
    [
      'a 429 asking for a wait past the backoff cap is waited in full',
      [start(), failed(0, status(429, 20_000)), elapsed(20_000)],
      {},
      [send(1), wait(20_000), send(2)],
    ],
    [
      "a 503's retryAfterMs is waited in full",
      [start(), failed(0, sdk('STORE_UNAVAILABLE', 503, 7000))],
      {},
      [send(1), wait(7000)],
    ],
    [
      'a 429 or 503 that asks for more than maxRetryAfterMs ends the call at once',
      [start(), failed(0, status(503, 61_000))],
      {},
      [send(1), FAIL],
    ],
    ['a 400 is never retried', [start(), failed(0, status(400))], {}, [send(1), FAIL]],
    ["the app's own 409 is never retried", [start(), failed(0, status(409))], {}, [send(1), FAIL]],
    ['PAYLOAD_MISMATCH is never retried', [start(), failed(0, sdk('PAYLOAD_MISMATCH', 422))], {}, [send(1), FAIL]],
    [
      "nothing is sent after the caller's abort, during an attempt or a delay",
      [start(), aborted(10), failed(20, status(503)), elapsed(300), ok(400)],
      {},
      [send(1), { type: 'abandon' }, NONE, NONE, NONE],
    ],
    [
      'an abort while waiting out a delay cancels it, and its end sends nothing',
      [start(), failed(0, status(503)), aborted(100), elapsed(250)],
      {},
      [send(1), wait(250), { type: 'abandon' }, NONE],
    ],
    [
      'an answer after the call ended, or one with nothing in flight, is ignored',
      [start(), ok(10), failed(20, status(503)), start(30), aborted(40)],
      {},
      [send(1), { type: 'succeed', attempts: 1, replayed: false }, NONE, NONE, NONE],
    ],
    [
      'while offline, nothing is sent, and a failure meanwhile is waited out without using up an attempt',
      [start(0, false), backOnline(50), failed(60, NETWORK, false), backOnline(900), failed(950, status(500))],
      { attempts: 2 },
      [{ type: 'wait-online' }, send(1), { type: 'wait-online' }, send(2), wait(250)],
    ],
    [
      'a delay that ends while offline waits for the network',
      [start(), failed(0, status(500)), elapsed(250, false), backOnline(400)],
      {},
      [send(1), wait(250), { type: 'wait-online' }, send(2)],
    ],
    [
      'after IN_PROGRESS, the next attempt asks the server to wait: the budget left, at most half the attempt timeout',
      [start(), failed(0, sdk('IN_PROGRESS', 409, 100)), elapsed(100), failed(200, status(503)), elapsed(450)],
      { maxInProgressWaitMs: 35_000, attemptTimeoutMs: 10_000 },
      [send(1), wait(100), send(2, 5), wait(250), send(3)],
    ],
    [
      'the wait asked for is what is left of the budget, in whole seconds, and never under one',
      [
        start(),
        failed(0, sdk('IN_PROGRESS', 409, 700)),
        elapsed(700),
        failed(700, sdk('IN_PROGRESS', 409, 700)),
        elapsed(1400),
      ],
      { maxInProgressWaitMs: 2000, attemptTimeoutMs: Number.POSITIVE_INFINITY },
      [send(1), wait(700), send(2, 1), wait(700), send(3)],
    ],
    [
      'the wait asked for is at most 30 s, even with no attempt timeout and a long budget',
      [start(), failed(0, sdk('IN_PROGRESS', 409, 10)), elapsed(10)],
      { maxInProgressWaitMs: 120_000, attemptTimeoutMs: Number.POSITIVE_INFINITY },
      [send(1), wait(10), send(2, 30)],
    ],
  ])('%s', (_, happenings, settings, expected) => {
    expect(steps(happenings, settings)).toEqual(expected);
  });

  it('spreads the backoff by the random source it is given: full jitter in [0, d], equal in [d/2, d]', () => {
    const twice = [start(), failed(0, NETWORK), elapsed(0), failed(0, NETWORK)];
    expect(steps(twice, { jitter: 'full' }, () => 0.5)).toEqual([send(1), wait(125), send(2), wait(250)]);
    expect(steps(twice, { jitter: 'full' }, () => 0)).toEqual([send(1), wait(0), send(2), wait(0)]);
    expect(steps(twice, { jitter: 'equal' }, () => 0.5)).toEqual([send(1), wait(188), send(2), wait(375)]);
    // The IN_PROGRESS hint is spread only later, by up to 5%, so nobody comes back before the server asked.
    expect(steps([start(), failed(0, sdk('IN_PROGRESS', 409, 800))], { jitter: 'full' }, () => 0.5)).toEqual([
      send(1),
      wait(820),
    ]);
  });

  it('is deterministic: the same happenings and random source give the same plans', () => {
    const happenings = [start(), failed(0, NETWORK), elapsed(100), failed(100, status(503, 1000)), elapsed(1200)];
    const random = () => 0.37;
    expect(walk(happenings, { jitter: 'full' }, random)).toEqual(walk(happenings, { jitter: 'full' }, random));
  });

  it('reports every attempt for onAttempt: started, then exactly one of retrying, failed, succeeded or aborted', () => {
    const plans = walk(
      [start(), failed(40, status(503)), elapsed(290), timedOut(1290), elapsed(1790), ok(1800, true)],
      { attemptTimeoutMs: 1000 },
    );
    expect(plans.map((plan) => plan.report)).toEqual<Array<AttemptReport | undefined>>([
      { attempt: 1, outcome: 'started', delayMs: 0 },
      { attempt: 1, outcome: 'retrying', delayMs: 250, durationMs: 40, reason: 'server_error', status: 503 },
      { attempt: 2, outcome: 'started', delayMs: 0 },
      { attempt: 2, outcome: 'retrying', delayMs: 500, durationMs: 1000, reason: 'timeout', status: undefined },
      { attempt: 3, outcome: 'started', delayMs: 0 },
      { attempt: 3, outcome: 'succeeded', delayMs: 0, durationMs: 10, replayed: true },
    ]);
    const [failedPlan] = walk([start(), failed(5, status(422))]).slice(1);
    expect(failedPlan?.report).toMatchObject({ outcome: 'failed', reason: 'client_error', status: 422 });
    const [abortedPlan] = walk([start(), aborted(7)]).slice(1);
    expect(abortedPlan?.report).toEqual({
      attempt: 1,
      outcome: 'aborted',
      delayMs: 0,
      durationMs: 7,
      reason: 'aborted',
    });
    const [offlinePlan] = walk([start(), failed(3, NETWORK, false)]).slice(1);
    expect(offlinePlan?.report).toMatchObject({ outcome: 'retrying', reason: 'offline', delayMs: 0 });
  });

  it('never changes the state it was given', () => {
    const state = { ...INITIAL_ATTEMPT_STATE, phase: 'sending' as const, attempt: 1 };
    const copy = structuredClone(state);
    planAttempt(state, failed(0, sdk('IN_PROGRESS', 409, 10)), { retry: DEFAULT_RETRY_SETTINGS, random: Math.random });
    expect(state).toEqual(copy);
  });
});

describe('the driver around the planner', () => {
  it('sends every attempt with the same key and the same input, and reports each to onAttempt', async () => {
    const sent: Array<{ key: unknown; input: unknown }> = [];
    const events: string[] = [];
    const input = { item: 'lamp' };
    const op = {
      id: 1,
      type: 'mutation',
      path: 'orders.create',
      input,
      context: { idempotencyKey: 'k1' },
      signal: null,
    };
    const result = await new Promise((resolve, reject) => {
      const sequence = createAttemptSequence({
        op: op as never,
        key: 'k1',
        next: (attempt) =>
          observable((observer) => {
            sent.push({ key: attempt.context.idempotencyKey, input: attempt.input });
            if (sent.length < 3) {
              observer.error(
                TRPCClientError.from({ error: { message: 'busy', code: -32603, data: { httpStatus: 503 } } }),
              );
            } else {
              observer.next({ result: { type: 'data', data: 'placed' } });
              observer.complete();
            }
          }),
        retry: { ...DEFAULT_RETRY_SETTINGS, jitter: 'none' },
        random: Math.random,
        schedule: (run) => {
          const timer = setImmediate(run);
          return () => clearImmediate(timer);
        },
        onAttempt: (event) => events.push(`${event.attempt}:${event.outcome}`),
        onSettled: () => {},
      });
      sequence.join({ next: (envelope) => resolve(envelope.result), error: reject, complete: () => {} }, undefined);
      sequence.start();
    });
    expect(result).toMatchObject({ data: 'placed' });
    expect(sent).toEqual([
      { key: 'k1', input },
      { key: 'k1', input },
      { key: 'k1', input },
    ]);
    expect(sent.every((attempt) => attempt.input === input)).toBe(true);
    expect(events).toEqual(['1:started', '1:retrying', '2:started', '2:retrying', '3:started', '3:succeeded']);
  });
});
