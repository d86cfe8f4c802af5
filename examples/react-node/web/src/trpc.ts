import { httpLink } from '@trpc/client';
import { createTRPCContext } from '@trpc/tanstack-react-query';
import { createIdempotentClient } from '@trpc-idempotency/client';
import superjson from 'superjson';
import type { AppRouter } from '../../server/src/router';
import { CallLog } from './callLog';

/** Every payment call this tab makes, with its attempts, for the timeline and the checkout's answer. */
export const callLog = new CallLog();

/**
 * The typed tRPC client. Each `payments.create` call carries one idempotency key on every attempt,
 * and network failures, 409 IN_PROGRESS and 5xx answers are retried with backoff and jitter.
 */
export const trpcClient = createIdempotentClient<AppRouter>({
  url: '/trpc',
  transformer: superjson,
  // One request per query instead of a batch: a ledger read that waits on a sick store never holds up
  // the status badge or the chaos panel, and each fails on its own.
  unkeyedLink: httpLink({ url: '/trpc', transformer: superjson }),
  idempotency: {
    filter: (op) => op.path === 'payments.create',
    onAttempt: callLog.record,
    // A double click or a second tab meets 409 IN_PROGRESS until the first request ends; those answers
    // are waited out (within maxInProgressWaitMs, 35 s) and do not use up the 5 attempts. 'equal' jitter
    // keeps each backoff at least half its step, so a failure is not retried at once.
    jitter: 'equal',
  },
});

/** React bindings: `useTRPC()` gives typed query and mutation options for TanStack Query. */
export const { TRPCProvider, useTRPC, useTRPCClient } = createTRPCContext<AppRouter>();
