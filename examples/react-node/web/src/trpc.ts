import { MutationCache, onlineManager, QueryClient } from '@tanstack/react-query';
import { httpLink } from '@trpc/client';
import { createTRPCOptionsProxy } from '@trpc/tanstack-react-query';
import { createIdempotentClient } from '@trpc-idempotency/client';
import { idempotencyOf, idempotentMutation } from '@trpc-idempotency/client/tanstack';
import superjson from 'superjson';
import type { AppRouter } from '../../server/src/router';
import { CallLog } from './callLog';
import { rememberPayment } from './checkout/lastPayment';
import { network } from './network';

/** Every payment call this tab makes, with its attempts, for the timeline and the checkout's answer. */
export const callLog = new CallLog();

/**
 * The typed tRPC client. Each `payments.create` call carries one idempotency key on every attempt,
 * and network failures, 409 IN_PROGRESS and 5xx answers are retried with backoff and jitter. Its requests
 * go through this tab's network switch (`network.ts`).
 */
export const trpcClient = createIdempotentClient<AppRouter>({
  url: '/trpc',
  transformer: superjson,
  fetch: network.fetch,
  // One request per query instead of a batch: a ledger read that waits on a sick store never holds up
  // the status badge or the chaos panel, and each fails on its own.
  unkeyedLink: httpLink({ url: '/trpc', transformer: superjson, fetch: network.fetch }),
  idempotency: {
    filter: (op) => op.path === 'payments.create',
    onAttempt: callLog.record,
    // A double click or a second tab meets 409 IN_PROGRESS until the first request ends; those answers
    // are waited out (within maxInProgressWaitMs, 35 s) and do not use up the 5 attempts. 'equal' jitter
    // keeps each backoff at least half its step, so a failure is not retried at once.
    jitter: 'equal',
    // An attempt that fails while this tab is offline waits for the network and is not counted.
    online: network,
  },
});

// TanStack Query pauses mutations (and queries) while this tab is offline, and resumes them when it is back.
onlineManager.setEventListener((setOnline) => network.subscribe(() => setOnline(network.isOnline())));
onlineManager.setOnline(network.isOnline());

/**
 * The idempotent client retries mutations itself, with one key per intent; TanStack Query must not add its
 * own. Queries poll, so one quick retry is enough: a server or ledger that is down shows as such within seconds.
 */
export const queryClient = new QueryClient({
  defaultOptions: { mutations: { retry: false }, queries: { retry: 1, retryDelay: 500 } },
  mutationCache: new MutationCache({
    // Every payment that succeeds, resumed ones included, leaves its receipt for the next page load
    // (checkout/lastPayment.ts). Only payments carry an idempotency key in their state.
    onSuccess: (data, _variables, _onMutateResult, mutation) => {
      const { key } = idempotencyOf(mutation.state);
      if (key) rememberPayment(key, data);
    },
  }),
});

/** Typed query and mutation options for TanStack Query: `useQuery(trpc.payments.list.queryOptions())`. */
export const trpc = createTRPCOptionsProxy<AppRouter>({ client: trpcClient, queryClient });

/**
 * The checkout's payment, bound to TanStack Query. Each payment takes the intent's key when it is created
 * and keeps it in its mutation's state: a double click, a second tab, a payment paused offline and one in
 * flight during a reload all pay the same intent, once. The intent lives in localStorage under the name
 * the page has always used, so a key stored by an earlier version of the page is kept.
 */
export const checkout = idempotentMutation(trpc.payments.create, {
  queryClient,
  client: trpcClient,
  intent: { storage: 'local', storageKey: 'trpc-idempotency:brewline-checkout' },
});
