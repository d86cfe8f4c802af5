import { createTRPCContext } from '@trpc/tanstack-react-query';
import { createIdempotentClient } from '@trpc-idempotency/client';
import superjson from 'superjson';
import type { AppRouter } from '../../server/src/router';
import { AttemptLog } from './attemptLog';

/** Every attempt this tab makes at `payments.create`, for the timeline. */
export const attemptLog = new AttemptLog();

/**
 * The typed tRPC client. Each `payments.create` call carries one idempotency key on every attempt,
 * and network failures, 409 IN_PROGRESS and 5xx answers are retried with backoff and jitter.
 */
export const trpcClient = createIdempotentClient<AppRouter>({
  url: '/trpc',
  transformer: superjson,
  idempotency: {
    filter: (op) => op.path === 'payments.create',
    onAttempt: attemptLog.record,
    // A double click or a second tab meets 409 IN_PROGRESS until the first request ends, so the budget
    // must outlast a slow first request: 8 attempts, and 'equal' jitter keeps each wait at least half
    // its step (125 ms, 250 ms, … capped at 5 s), about 9 s in all before the page gives up.
    attempts: 8,
    jitter: 'equal',
  },
});

/** React bindings: `useTRPC()` gives typed query and mutation options for TanStack Query. */
export const { TRPCProvider, useTRPC, useTRPCClient } = createTRPCContext<AppRouter>();
