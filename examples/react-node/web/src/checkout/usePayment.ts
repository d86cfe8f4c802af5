import { useMutation, useQueryClient } from '@tanstack/react-query';
import type { inferRouterInputs } from '@trpc/server';
import { isIdempotencyError, mutateWithMeta } from '@trpc-idempotency/client';
import { useIdempotencyKey } from '@trpc-idempotency/client/react';
import { useState } from 'react';
import type { AppRouter } from '../../../server/src/router';
import { formatMoney } from '../money';
import { failedOutcome, type PaymentOutcome, paidOutcome } from '../outcomes';
import { callLog, useTRPC, useTRPCClient } from '../trpc';

/** What the checkout sends. */
export type PaymentInput = inferRouterInputs<AppRouter>['payments']['create'];

/**
 * The checkout's payment, in one place: the intent's key, the mutation and the answer to each click.
 *
 * The intent key lives in localStorage, so a double click, a retry after a lost response, a reload and a
 * second tab all pay the same intent; `run` rotates it after a success and keeps it after a failure, so
 * paying again after an error is the same payment. `mutateWithMeta` tells each click whether the server
 * replayed a stored outcome.
 */
export function usePayment() {
  const trpc = useTRPC();
  const client = useTRPCClient();
  const queryClient = useQueryClient();
  const intent = useIdempotencyKey('brewline-checkout', { storage: 'local' });
  const [outcome, setOutcome] = useState<PaymentOutcome | null>(null);

  const mutation = useMutation({
    mutationKey: trpc.payments.create.mutationKey(),
    mutationFn: async ({ input }: { input: PaymentInput; key: string }) => {
      // A click while another tab pays this intent waits for that tab and takes its answer, with no
      // request of its own: to this tab the payment was made elsewhere, so it is shown as replayed.
      let shared = false;
      const result = await intent.run(
        (idempotencyKey) => mutateWithMeta(client.payments.create, input, { idempotencyKey }),
        { input, onShared: () => (shared = true) },
      );
      return shared ? { ...result, replayed: true } : result;
    },
    onSuccess: (result) => setOutcome(paidOutcome(result, callLog.latestCall(result.key))),
    onError: (error, { key }) =>
      setOutcome((shown) =>
        // A click that gave up waiting for another click or tab says nothing once that one has paid.
        shown?.payment && isIdempotencyError(error, 'IN_PROGRESS')
          ? shown
          : failedOutcome(error, callLog.latestCall(key)),
      ),
    // Not returned: the mutation is settled now, however long the ledger takes to answer.
    onSettled: () => {
      void queryClient.invalidateQueries({ queryKey: trpc.payments.list.queryKey() });
    },
  });

  return {
    /** The intent's key: the same on every click until a payment succeeds. */
    key: intent.key,
    outcome,
    isPending: mutation.isPending,
    pay(input: PaymentInput) {
      if (!mutation.isPending) setOutcome(null);
      callLog.noteClick(intent.key, formatMoney(input.amount, input.currency));
      mutation.mutate({ input, key: intent.key });
    },
    /** Starts a new payment: a new key, and the answer cleared. */
    startOver() {
      intent.rotate();
      setOutcome(null);
    },
  };
}
