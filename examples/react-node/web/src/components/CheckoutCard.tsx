import { useMutation, useQueryClient } from '@tanstack/react-query';
import type { inferRouterInputs } from '@trpc/server';
import { isIdempotencyError } from '@trpc-idempotency/client';
import { useIdempotencyKey } from '@trpc-idempotency/client/react';
import { type FormEvent, useState } from 'react';
import type { AppRouter } from '../../../server/src/router';
import { formatMoney, parseAmount, shortKey } from '../money';
import { attemptLog, useTRPC, useTRPCClient } from '../trpc';

type PaymentInput = inferRouterInputs<AppRouter>['payments']['create'];
type Currency = PaymentInput['currency'];

const CURRENCIES = ['EUR', 'USD', 'GBP'] as const satisfies readonly Currency[];

type Answer =
  | { kind: 'paid'; id: string; amount: number; currency: string; replayed: boolean }
  | { kind: 'failed'; message: string };

/**
 * The checkout form. Its intent key lives in localStorage, so a double click, a retry after a lost
 * response, a reload and a second tab all pay the same intent; the key rotates after a success.
 */
export function CheckoutCard() {
  const trpc = useTRPC();
  const client = useTRPCClient();
  const queryClient = useQueryClient();
  const intent = useIdempotencyKey('brewline-checkout', { storage: 'local' });
  const [amountText, setAmountText] = useState('42.00');
  const [currency, setCurrency] = useState<Currency>('EUR');
  const [note, setNote] = useState('Espresso beans, 1 kg');
  const [answer, setAnswer] = useState<Answer | null>(null);
  const amount = parseAmount(amountText);

  const pay = useMutation({
    mutationKey: trpc.payments.create.mutationKey(),
    // run() sends the intent's key on every call and every retry, and starts a new intent after a success.
    mutationFn: (input: PaymentInput) =>
      intent.run((idempotencyKey) => client.payments.create.mutate(input, { context: { idempotencyKey } })),
    onSuccess: (payment) => {
      const replayed = attemptLog.lastSuccessReplayed(payment.key);
      setAnswer({ kind: 'paid', id: payment.id, amount: payment.amount, currency: payment.currency, replayed });
    },
    // A duplicate click that gave up on 409 IN_PROGRESS says nothing once the intent is paid.
    onError: (error) =>
      setAnswer((shown) =>
        shown?.kind === 'paid' && isIdempotencyError(error, 'IN_PROGRESS')
          ? shown
          : { kind: 'failed', message: explain(error) },
      ),
    onSettled: () => queryClient.invalidateQueries({ queryKey: trpc.payments.list.queryKey() }),
  });

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (amount === null) return;
    setAnswer(null);
    pay.mutate({ amount, currency, note });
  };

  return (
    <section className="card checkout" aria-labelledby="checkout-title">
      <div className="card-head">
        <h2 id="checkout-title">Checkout</h2>
        <span className="muted">Order #1042</span>
      </div>

      <form onSubmit={submit} className="form">
        <div className="field-row">
          <label className="field grow">
            <span>Amount</span>
            <input
              data-testid="amount"
              inputMode="decimal"
              value={amountText}
              onChange={(event) => setAmountText(event.target.value)}
              aria-invalid={amount === null}
            />
          </label>
          <label className="field">
            <span>Currency</span>
            <select
              data-testid="currency"
              value={currency}
              onChange={(event) => setCurrency(event.target.value as Currency)}
            >
              {CURRENCIES.map((code) => (
                <option key={code}>{code}</option>
              ))}
            </select>
          </label>
        </div>
        <label className="field">
          <span>Note</span>
          <input data-testid="note" value={note} maxLength={140} onChange={(event) => setNote(event.target.value)} />
        </label>

        <div className="intent">
          <span className="muted">Intent key</span>
          <code data-testid="intent-key" data-key={intent.key} title={intent.key}>
            {shortKey(intent.key)}
          </code>
          <button type="button" className="link" onClick={() => intent.rotate()}>
            New intent
          </button>
        </div>

        <button type="submit" className="pay" data-testid="pay" disabled={amount === null} aria-busy={pay.isPending}>
          {pay.isPending ? <span className="spinner" aria-hidden="true" /> : null}
          {pay.isPending ? 'Processing…' : `Pay ${amount === null ? '' : formatMoney(amount, currency)}`}
        </button>
        <p className="hint">Click twice, or open a second tab: every click of this intent sends the same key.</p>
      </form>

      {answer?.kind === 'paid' ? (
        <output className="answer ok" data-testid="answer" data-payment-id={answer.id}>
          Paid {formatMoney(answer.amount, answer.currency)} · <code>{answer.id}</code>
          {answer.replayed ? (
            <span className="badge replayed" data-testid="answer-replayed">
              replayed
            </span>
          ) : null}
        </output>
      ) : null}
      {answer?.kind === 'failed' ? (
        <output className="answer error" data-testid="answer-error">
          {answer.message}
        </output>
      ) : null}
    </section>
  );
}

function explain(error: Error): string {
  if (isIdempotencyError(error, 'STORE_UNAVAILABLE')) {
    return 'Payments are paused: the idempotency store is unreachable. Nothing was charged; try again.';
  }
  if (isIdempotencyError(error, 'PAYLOAD_MISMATCH')) {
    return 'This intent was already paid with other details. Start a new intent to pay again.';
  }
  if (isIdempotencyError(error, 'IN_PROGRESS')) return 'This payment is still being processed; try again shortly.';
  return `The payment did not go through: ${error.message}. Paying again with the same intent is safe.`;
}
