import type { ResolvedIdempotencyOptions } from './options.js';
import type {
  ClaimRequest,
  ClaimResult,
  RecordWatch,
  TransactionalClaimResult,
  TransactionalStore,
} from './store/types.js';

/** A claim's answer, and when the claim that gave it was sent: the lease is counted from then. */
export interface SentClaim {
  /** With `transaction: true`, a won claim carries the open transaction the handler writes through. */
  claim: ClaimResult | TransactionalClaimResult<unknown>;
  sentAt: number;
  /** When it waited for another holder (docs/protocol.md §3): for how long. */
  waitedMs?: number;
}

/** A store without `watch` is asked again after 10 ms, then twice as long each time, up to 200 ms. */
const FIRST_POLL_MS = 10;
const MAX_POLL_MS = 200;

/**
 * Claims the record (in transaction mode, with `claimInTransaction`). With a wait of `waitMs` (the
 * `inProgress` option and the request's `Prefer: wait`), a duplicate that finds another holder running
 * waits for its outcome: woken by the store when it offers `watch`, else asking again on a timer, until
 * the outcome is stored, the lease is free, the wait is over or the caller went away.
 */
export function claimOrWait<TContext>(
  config: ResolvedIdempotencyOptions<TContext>,
  args: { recordKey: string; fingerprint: string; token: string; signal: AbortSignal | undefined; waitMs: number },
): Promise<SentClaim> {
  const request: ClaimRequest = {
    recordKey: args.recordKey,
    fingerprint: args.fingerprint,
    token: args.token,
    leaseMs: config.leaseMs,
    retentionMs: config.retentionMs,
  };
  const sentAt = performance.now();
  const first = claimOnce(config, request);
  // No wait (the default for a request that asks for none): one claim, answered as it comes.
  if (args.waitMs === 0 || config.inProgress === 'reject') return first.then((claim) => ({ claim, sentAt }));
  const rereadMs = config.inProgress.rereadMs;
  return first.then((claim) =>
    claim.status === 'in_progress'
      ? waitWhileInProgress(config, request, { waitMs: args.waitMs, rereadMs, signal: args.signal, sentAt })
      : { claim, sentAt },
  );
}

function claimOnce<TContext>(
  config: ResolvedIdempotencyOptions<TContext>,
  request: ClaimRequest,
): Promise<SentClaim['claim']> {
  // resolveOptions checked that a store used with `transaction: true` has claimInTransaction.
  return config.transaction
    ? (config.store as TransactionalStore).claimInTransaction(request)
    : config.store.claim(request);
}

/**
 * The wait itself, after a first claim answered `in_progress`. With a store that watches: watch first,
 * then claim again (a completion between the first claim and the watch is seen by this claim), then wait
 * for the store's word or `rereadMs` (a lost notification costs at most that), and claim again. Each wait
 * also ends at the lease's end, when this caller may take over from a holder that died.
 */
async function waitWhileInProgress<TContext>(
  config: ResolvedIdempotencyOptions<TContext>,
  request: ClaimRequest,
  wait: { waitMs: number; rereadMs: number; signal: AbortSignal | undefined; sentAt: number },
): Promise<SentClaim> {
  const { signal } = wait;
  const deadline = wait.sentAt + wait.waitMs;
  let watch: RecordWatch | undefined;
  try {
    watch = config.store.watch?.(request.recordKey);
  } catch {
    // A store that cannot watch now is asked again on a timer.
  }
  try {
    if (watch) await settledWithin(watch.ready, Math.min(wait.rereadMs, deadline - performance.now()));
    let pollMs = FIRST_POLL_MS;
    for (;;) {
      const sentAt = performance.now();
      const claim = await claimOnce(config, request);
      const waitedMs = Math.round(sentAt - wait.sentAt);
      const remaining = deadline - performance.now();
      if (claim.status !== 'in_progress' || remaining <= 0 || signal?.aborted) return { claim, sentAt, waitedMs };
      const untilLeaseEnds = claim.leaseRemainingMs;
      if (watch) {
        await watch.changed({ timeoutMs: Math.min(wait.rereadMs, untilLeaseEnds, remaining), signal });
      } else {
        await sleep(Math.min(pollMs, untilLeaseEnds, remaining), signal);
        pollMs = Math.min(pollMs * 2, MAX_POLL_MS);
      }
    }
  } finally {
    watch?.close();
  }
}

/** Waits for `promise` to settle, either way, for at most `ms`. */
function settledWithin(promise: Promise<void>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, Math.max(0, ms));
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    promise.then(done, done);
  });
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
