import { useMutation, useMutationState } from '@tanstack/react-query';
import type { inferRouterInputs, inferRouterOutputs } from '@trpc/server';
import { isIdempotencyError } from '@trpc-idempotency/client';
import { idempotencyOf } from '@trpc-idempotency/client/tanstack';
import { useRef, useState, useSyncExternalStore } from 'react';
import type { AppRouter } from '../../../server/src/router';
import { usePaymentCalls } from '../callLog';
import { formatMoney } from '../money';
import { useNetwork } from '../network';
import {
  failedOutcome,
  type PaymentOutcome,
  paidOutcome,
  restoredOutcome,
  resumingOutcome,
  waitingOutcome,
} from '../outcomes';
import { callLog, checkout, queryClient, trpc } from '../trpc';
import { type LastPayment, lastPaymentBefore } from './lastPayment';

/** What the checkout sends. */
export type PaymentInput = inferRouterInputs<AppRouter>['payments']['create'];
type Receipt = inferRouterOutputs<AppRouter>['payments']['create'];

/** One payment as the page shows it, from its mutation's state. */
interface PaymentState {
  id: number;
  /** The payment's idempotency key, given when it was created. */
  key: string | undefined;
  /** It was resumed after a reload, not started in this page. */
  resumed: boolean;
  /** It ended before this page loaded: only its receipt is known (checkout/lastPayment.ts). */
  restored?: boolean;
  status: 'idle' | 'pending' | 'success' | 'error';
  /** Waiting for the network (TanStack Query paused it). */
  paused: boolean;
  data: Receipt | undefined;
  error: unknown;
  submittedAt: number;
}

const intent = checkout.intent!;

/** The payments a reload interrupted, which main.tsx resumes: the page shows them from its first render. */
const pendingAtLoad = new Set(intent.pending().map((call) => call.key));

/**
 * What the page shows before it has a payment of its own: a payment that a reload interrupted, while it is
 * still pending (main.tsx resumes it; its mutation takes over as soon as it exists), or else the receipt of
 * the payment that went through as the page was going away (checkout/lastPayment.ts). Never an empty
 * checkout beside a payment that was made.
 */
function carriedOver(): PaymentState | undefined {
  const pending = intent.pending().find((call) => pendingAtLoad.has(call.key));
  if (pending) {
    return { ...stateOf(pending.key, pending.startedAt), resumed: true, status: 'pending' };
  }
  const paid = lastPaymentBefore(performance.timeOrigin);
  if (!paid) return undefined;
  const { key, id, amount, currency, paidAt } = paid;
  return {
    ...stateOf(key, paidAt),
    restored: true,
    status: 'success',
    data: { id, amount, currency, paidAt } as unknown as Receipt,
  };
}

const stateOf = (key: string, submittedAt: number): PaymentState => ({
  id: -1,
  key,
  resumed: false,
  status: 'idle',
  paused: false,
  data: undefined,
  error: null,
  submittedAt,
});

/**
 * The checkout's payment, in one place: the intent's key, the mutation and the answer to it.
 *
 * The payment goes through `checkout` (trpc.ts), TanStack Query's binding of `payments.create`: each
 * payment takes the intent's key when it is created and keeps it, so a double click, a second tab, a
 * payment paused offline and one resumed after a reload all pay the same intent, once. The key rotates
 * after a success, in every tab, and stays after a failure, so paying again is the same payment.
 *
 * The answer comes from the latest payment's mutation state (`useMutationState`), not from a click's
 * callbacks, so a payment resumed after a reload shows without a click.
 */
export function usePayment() {
  const key = useSyncExternalStore(intent.subscribe, () => intent.key);
  const mutation = useMutation(
    checkout.options({
      // One retry layer: the link retries, with backoff and the server's Retry-After; TanStack Query does not.
      retry: false,
      // Not returned: the mutation is settled now, however long the ledger takes to answer.
      onSettled: () => {
        void queryClient.invalidateQueries({ queryKey: trpc.payments.list.queryKey() });
      },
    }),
  );
  const payments = useMutationState({
    filters: { mutationKey: checkout.mutationKey },
    select: (each): PaymentState => ({
      id: each.mutationId,
      ...idempotencyOf(each.state),
      status: each.state.status,
      paused: each.state.isPaused,
      data: each.state.data as Receipt | undefined,
      error: each.state.error,
      submittedAt: each.state.submittedAt,
    }),
  });
  // The answers depend on the tries in the call log too.
  usePaymentCalls(callLog);
  /** "New payment" clears the answer: payments submitted before this time are not shown. */
  const [clearedAt, setClearedAt] = useState(0);
  /** A settled payment's answer, worked out once: clearing the timeline later must not change it. */
  const settled = useRef(new Map<number, PaymentOutcome | null>());

  const online = useNetwork() === 'online';

  const shown = payments.filter((payment) => payment.submittedAt > clearedAt);
  // Nothing of this page's own yet: what a reload carried over (a pending payment, or the receipt of one).
  const latest = shown.at(-1) ?? (clearedAt === 0 ? carriedOver() : undefined);
  // Paused by TanStack Query, or under way in the link, which waits for the network before its next try.
  const waiting = (payment: PaymentState) => payment.status === 'pending' && (payment.paused || !online);
  const answer = (payment: PaymentState): PaymentOutcome | null => {
    if (payment.restored) return restoredOutcome(payment.data as unknown as LastPayment);
    if (payment.status === 'pending') {
      if (waiting(payment)) return waitingOutcome(payment.resumed);
      return payment.resumed ? resumingOutcome() : null;
    }
    if (payment.status === 'idle') return null;
    const known = settled.current.get(payment.id);
    if (known !== undefined) return known;
    const outcome = settledOutcome(payment, shown);
    settled.current.set(payment.id, outcome);
    // Forget the answers of mutations TanStack Query has let go of.
    for (const id of settled.current.keys()) if (!payments.some((each) => each.id === id)) settled.current.delete(id);
    return outcome;
  };

  return {
    /** The intent's key: the same on every click until a payment succeeds. */
    key,
    outcome: latest ? answer(latest) : null,
    /** The latest payment's state, for the page's data attributes. */
    latest,
    isPending: latest?.status === 'pending',
    /** The latest payment waits for the network. */
    isWaiting: latest !== undefined && waiting(latest),
    pay(input: PaymentInput) {
      callLog.noteClick(intent.key, formatMoney(input.amount, input.currency));
      mutation.mutate(input);
    },
    /** Starts a new payment: a new key, in every tab, and the answer cleared. */
    startOver() {
      intent.rotate();
      setClearedAt(Date.now());
    },
  };
}

/** The answer to a payment that ended, from its state and this tab's call of its key. */
function settledOutcome(payment: PaymentState, all: readonly PaymentState[]): PaymentOutcome | null {
  const call = payment.key ? callLog.latestCall(payment.key) : undefined;
  if (payment.status === 'success' && payment.data) {
    // No call of this key succeeded in this tab: another tab (or an earlier click) paid it, and this
    // payment took that answer without a request of its own.
    const own = call?.state === 'succeeded' ? call : undefined;
    const last = own?.attempts.at(-1);
    return paidOutcome(payment.data, { replayed: last?.replayed === true, shared: own === undefined }, own);
  }
  if (payment.status === 'error') {
    // A click that gave up waiting for another click or tab says nothing once that one has paid.
    if (isIdempotencyError(payment.error, 'IN_PROGRESS')) {
      const paid = all.findLast((other) => other.key === payment.key && other.status === 'success');
      if (paid) return settledOutcome(paid, all);
    }
    return failedOutcome(payment.error, call);
  }
  return null;
}
