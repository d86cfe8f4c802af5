import { TRPCClientError } from '@trpc/client';
import {
  backoffDelay,
  classifyFailure,
  createIdempotentClient,
  DEFAULT_RETRY_SETTINGS,
  idempotencyLink,
  parseRetryAfter,
  planInProgressDelay,
  planRetryDelay,
} from '@trpc-idempotency/client';
import { describe, expect, it } from 'vitest';

const settings = { baseDelayMs: 250, maxDelayMs: 5000, maxRetryAfterMs: 60_000, jitter: 'none' as const };
const failed = (extra: Partial<Parameters<typeof classifyFailure>[0]>) =>
  classifyFailure({ timedOut: false, aborted: false, ...extra });
const sdkError = (code: string, httpStatus: number, retryAfterMs?: number) => ({
  code: 'X',
  httpStatus,
  idempotency: retryAfterMs === undefined ? { code } : { code, retryAfterMs },
});

describe('backoff', () => {
  it('doubles from the base and stops at the cap', () => {
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => backoffDelay(n, settings))).toEqual([
      250, 500, 1000, 2000, 4000, 5000, 5000,
    ]);
  });

  it('full jitter spreads over [0, d], equal jitter over [d/2, d]', () => {
    expect(backoffDelay(3, { ...settings, jitter: 'full' }, () => 0)).toBe(0);
    expect(backoffDelay(3, { ...settings, jitter: 'full' }, () => 0.999999)).toBe(1000);
    expect(backoffDelay(3, { ...settings, jitter: 'equal' }, () => 0)).toBe(500);
    expect(backoffDelay(3, { ...settings, jitter: 'equal' }, () => 0.5)).toBe(750);
    // A broken random source can never push a delay out of range.
    expect(backoffDelay(3, { ...settings, jitter: 'full' }, () => 7)).toBe(1000);
    expect(backoffDelay(3, { ...settings, jitter: 'full' }, () => Number.NaN)).toBe(0);
  });

  it('raises the delay to what the server asked for, past the backoff cap up to maxRetryAfterMs, and gives up above it', () => {
    expect(planRetryDelay(1, settings, 2000)).toBe(2000);
    expect(planRetryDelay(1, settings, 100)).toBe(250);
    expect(planRetryDelay(1, settings, 20_000)).toBe(20_000);
    expect(planRetryDelay(1, settings, 60_000)).toBe(60_000);
    expect(planRetryDelay(1, settings, 60_001)).toBeUndefined();
    expect(planRetryDelay(1, { ...settings, maxRetryAfterMs: 0 }, 1000)).toBeUndefined();
    // No hint, or a zero one: plain backoff.
    expect(planRetryDelay(7, settings, undefined)).toBe(5000);
    expect(planRetryDelay(1, settings, 0)).toBe(250);
  });

  it("waits out IN_PROGRESS by the server's hint, spread at most 5% later, within what is left of the budget", () => {
    expect(planInProgressDelay(1, settings, 800, 35_000)).toBe(800);
    expect(planInProgressDelay(4, settings, 800, 35_000)).toBe(800);
    expect(planInProgressDelay(1, { ...settings, jitter: 'full' }, 800, 35_000, () => 0)).toBe(800);
    expect(planInProgressDelay(1, { ...settings, jitter: 'full' }, 800, 35_000, () => 0.999999)).toBe(840);
    expect(planInProgressDelay(1, { ...settings, jitter: 'equal' }, 800, 35_000, () => 0.5)).toBe(820);
    expect(planInProgressDelay(1, settings, 0, 35_000)).toBe(0);
    // The hint is never cut to maxDelayMs, only to the budget.
    expect(planInProgressDelay(1, settings, 29_000, 35_000)).toBe(29_000);
    expect(planInProgressDelay(1, settings, 29_000, 1200.7)).toBe(1200);
    // Without a hint: the ordinary backoff for the nth wait, still within the budget.
    expect(planInProgressDelay(3, settings, undefined, 35_000)).toBe(1000);
    expect(planInProgressDelay(3, settings, undefined, 600)).toBe(600);
  });

  it('reads Retry-After as seconds or as an HTTP-date', () => {
    const now = Date.UTC(2026, 0, 1, 0, 0, 0);
    expect(parseRetryAfter('2', now)).toBe(2000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter(new Date(now + 3000).toUTCString(), now)).toBe(3000);
    expect(parseRetryAfter(new Date(now - 3000).toUTCString(), now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter('-1', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });
});

describe('retry policy (docs/protocol.md §4)', () => {
  it.each([
    ['no response at all', {}, 'network'],
    ['the attempt timed out', { timedOut: true }, 'timeout'],
    ['a 500', { data: { code: 'INTERNAL_SERVER_ERROR', httpStatus: 500 } }, 'server_error'],
    ['a 502 page with no tRPC body', { responseStatus: 502 }, 'server_error'],
    ['a 503 STORE_UNAVAILABLE', { data: sdkError('STORE_UNAVAILABLE', 503, 1000) }, 'store_unavailable'],
    ['a 409 IN_PROGRESS', { data: sdkError('IN_PROGRESS', 409, 300) }, 'in_progress'],
    ['a 429', { data: { code: 'TOO_MANY_REQUESTS', httpStatus: 429 } }, 'rate_limited'],
    ['a status missing from a custom error shape', { data: { code: 'SERVICE_UNAVAILABLE' } }, 'server_error'],
    // wsLink fails a pending mutation with the socket's close event as the cause (or, when the client
    // closes, a TRPCWebSocketClosedError): no error.data, so the outcome is unknown.
    ['a WebSocket mutation whose socket closed', { data: TRPCClientError.from(new Event('close')).data }, 'network'],
    [
      'a TRPCWebSocketClosedError',
      {
        data: TRPCClientError.from(Object.assign(new Error('WebSocket closed'), { name: 'TRPCWebSocketClosedError' }))
          .data,
      },
      'network',
    ],
  ])('retries %s', (_, attempt, reason) => {
    expect(failed(attempt)).toMatchObject({ retryable: true, reason });
  });

  it.each([
    ['a 400', { data: { code: 'BAD_REQUEST', httpStatus: 400 } }, 'client_error'],
    ["the app's own 409 CONFLICT", { data: { code: 'CONFLICT', httpStatus: 409, idempotency: null } }, 'client_error'],
    ['a 422 PAYLOAD_MISMATCH', { data: sdkError('PAYLOAD_MISMATCH', 422) }, 'payload_mismatch'],
    ['a 400 KEY_INVALID', { data: sdkError('KEY_INVALID', 400) }, 'key_rejected'],
    ['a 413 page with no tRPC body', { responseStatus: 413 }, 'client_error'],
    ['anything after the caller aborted', { aborted: true, timedOut: true }, 'aborted'],
  ])('does not retry %s', (_, attempt, reason) => {
    expect(failed(attempt)).toMatchObject({ retryable: false, reason });
  });

  it('honours a wait hint on 429, 503 and IN_PROGRESS only', () => {
    expect(failed({ data: sdkError('STORE_UNAVAILABLE', 503, 1000), retryAfterHeaderMs: 2000 }).retryAfterMs).toBe(
      2000,
    );
    expect(failed({ responseStatus: 429, retryAfterHeaderMs: 2000 }).retryAfterMs).toBe(2000);
    expect(failed({ responseStatus: 500, retryAfterHeaderMs: 2000 }).retryAfterMs).toBeUndefined();
    expect(
      failed({ data: { code: 'CONFLICT', httpStatus: 409, idempotency: null }, retryAfterHeaderMs: 2000 }).retryAfterMs,
    ).toBeUndefined();
  });

  it("takes IN_PROGRESS's retryAfterMs over Retry-After, which counts whole seconds", () => {
    expect(failed({ data: sdkError('IN_PROGRESS', 409, 120), retryAfterHeaderMs: 1000 }).retryAfterMs).toBe(120);
    expect(failed({ data: sdkError('IN_PROGRESS', 409), retryAfterHeaderMs: 1000 }).retryAfterMs).toBe(1000);
    expect(failed({ data: sdkError('IN_PROGRESS', 409) }).retryAfterMs).toBeUndefined();
  });
});

describe('options are checked at construction', () => {
  it.each([
    [{ attempts: 0 }, /"attempts"/],
    [{ attempts: 2.5 }, /"attempts"/],
    [{ baseDelayMs: -1 }, /"baseDelayMs"/],
    [{ maxDelayMs: Number.NaN }, /"maxDelayMs"/],
    [{ baseDelayMs: 500, maxDelayMs: 100 }, /"maxDelayMs" must not be less than "baseDelayMs"/],
    [{ maxRetryAfterMs: -1 }, /"maxRetryAfterMs"/],
    [{ maxRetryAfterMs: '60s' }, /"maxRetryAfterMs"/],
    [{ maxInProgressWaitMs: Number.POSITIVE_INFINITY }, /"maxInProgressWaitMs"/],
    [{ maxInProgressWaitMs: Number.NaN }, /"maxInProgressWaitMs"/],
    [{ attemptTimeoutMs: 0 }, /"attemptTimeoutMs"/],
    [{ jitter: 'some' }, /"jitter"/],
    [{ key: 'sha' }, /"key"/],
    [{ key: 'derive' }, /"user" is required/],
    [{ user: 42 }, /"user"/],
    [{ onAttempt: 'log' }, /"onAttempt"/],
    [{ transformer: 'superjson' }, /"transformer"/],
    [{ dedupe: 'yes' }, /"dedupe"/],
    [{ keyIn: 'body' }, /"keyIn"/],
    [{ keyIn: true }, /"keyIn"/],
  ])('%j is refused with a TypeError naming it', (options, message) => {
    expect(() => idempotencyLink(options as never)).toThrow(TypeError);
    expect(() => idempotencyLink(options as never)).toThrow(message);
  });

  it('has the documented defaults', () => {
    expect(DEFAULT_RETRY_SETTINGS).toEqual({
      attempts: 5,
      baseDelayMs: 250,
      maxDelayMs: 5000,
      maxRetryAfterMs: 60_000,
      maxInProgressWaitMs: 35_000,
      attemptTimeoutMs: 10_000,
      jitter: 'full',
    });
    expect(() => idempotencyLink()).not.toThrow();
    expect(() => idempotencyLink({ attemptTimeoutMs: Number.POSITIVE_INFINITY })).not.toThrow();
  });
});

describe('createIdempotentClient checks its options', () => {
  it.each([
    [{ url: 42 }, /"url"/],
    [{ url: 'http://x', fetch: 'fetch' }, /"fetch"/],
    [{ url: 'http://x', headers: 'x-user: ann' }, /"headers"/],
    [{ url: 'http://x', keyedLink: {} }, /"keyedLink"/],
    [{ url: 'http://x', before: () => {} }, /"before"/],
    [{ url: 'http://x', idempotency: { attempts: -1 } }, /"attempts"/],
    [{ url: 'http://x', idempotency: { key: 'derive' } }, /"user"/],
    [{ url: 'http://x', idempotency: { keyIn: 'query' } }, /"keyIn"/],
    [{ url: 'http://x', batchKeyed: 'yes' }, /"batchKeyed"/],
    [{ url: 'http://x', batchKeyed: true, keyedLink: () => () => {} }, /"batchKeyed" has no effect with "keyedLink"/],
  ])('%j is refused with a TypeError naming it', (options, message) => {
    expect(() => createIdempotentClient(options as never)).toThrow(message);
  });
});
