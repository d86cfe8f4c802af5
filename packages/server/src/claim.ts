import type { ResolvedIdempotencyOptions } from './options.js';
import type { ClaimRequest, ClaimResult, TransactionalClaimResult, TransactionalStore } from './store/types.js';

/** A claim's answer, and when the claim that gave it was sent: the lease is counted from then. */
export interface SentClaim {
  /** With `transaction: true`, a won claim carries the open transaction the handler writes through. */
  claim: ClaimResult | TransactionalClaimResult<unknown>;
  sentAt: number;
  /** With `inProgress: { waitMs }`: how long it waited for another holder, when it did. */
  waitedMs?: number;
}

/**
 * Claims the record (in transaction mode, with `claimInTransaction`). With `inProgress: { waitMs }`,
 * keeps asking while another holder runs, until its outcome is stored, the lease is free, the wait is
 * over or the caller went away.
 */
export function claimOrWait<TContext>(
  config: ResolvedIdempotencyOptions<TContext>,
  args: { recordKey: string; fingerprint: string; token: string; signal: AbortSignal | undefined },
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
  // The default: one claim, answered as it comes (no waiting loop to set up per request).
  if (config.inProgress === 'reject') return first.then((claim) => ({ claim, sentAt }));
  return waitWhileInProgress(config, config.inProgress.waitMs, request, args.signal, first, sentAt);
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

async function waitWhileInProgress<TContext>(
  config: ResolvedIdempotencyOptions<TContext>,
  waitMs: number,
  request: ClaimRequest,
  signal: AbortSignal | undefined,
  first: Promise<SentClaim['claim']>,
  firstSentAt: number,
): Promise<SentClaim> {
  let sentAt = firstSentAt;
  let claim = await first;
  const deadline = sentAt + waitMs;
  let pollMs = 10;
  while (claim.status === 'in_progress' && !signal?.aborted) {
    const remaining = deadline - performance.now();
    if (remaining <= 0) break;
    await sleep(Math.min(pollMs, claim.leaseRemainingMs, remaining));
    pollMs = Math.min(pollMs * 2, 200);
    sentAt = performance.now();
    claim = await claimOnce(config, request);
  }
  return sentAt === firstSentAt ? { claim, sentAt } : { claim, sentAt, waitedMs: Math.round(sentAt - firstSentAt) };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
