import { type FormEvent, useEffect, useState } from 'react';
import { type PaymentInput, usePayment } from '../checkout/usePayment';
import { formatMoney, parseAmount, shortKey } from '../money';
import type { Field, PaymentOutcome } from '../outcomes';
import { ReplayedBadge } from './Hint';

type Currency = PaymentInput['currency'];

const CURRENCIES = ['EUR', 'USD', 'GBP'] as const satisfies readonly Currency[];

/**
 * The checkout form. The payment itself (key, mutation, answer) is `usePayment`'s; this component is
 * the form around it: the fields, their messages, the Pay button and the answer to the last click.
 */
export function CheckoutCard() {
  const payment = usePayment();
  const [amountText, setAmountText] = useState('42.00');
  const [currency, setCurrency] = useState<Currency>('EUR');
  const [note, setNote] = useState('Espresso beans, 1 kg');
  /** Fields changed since the server refused them: their old message no longer applies. */
  const [edited, setEdited] = useState<ReadonlySet<Field>>(new Set());
  const amount = parseAmount(amountText);
  const outcome = payment.outcome;

  const serverError = (field: Field) => (edited.has(field) ? undefined : outcome?.fieldErrors?.[field]);
  const amountError =
    amountText.trim() && amount === null ? 'Enter an amount such as 42 or 42.50.' : serverError('amount');
  const edit = (field: Field) => setEdited((fields) => new Set(fields).add(field));
  // "Check the highlighted field" stops being true once every refused field was changed.
  const refusedFields = Object.keys(outcome?.fieldErrors ?? {}) as Field[];
  const allCorrected = refusedFields.length > 0 && refusedFields.every((field) => edited.has(field));

  // A refused field takes the focus, so that a keyboard or screen reader user lands on what to fix.
  const firstRefused = (['amount', 'currency', 'note'] as const).find((field) => outcome?.fieldErrors?.[field]);
  useEffect(() => {
    if (firstRefused) document.getElementById(firstRefused)?.focus();
  }, [firstRefused]);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (amount === null) return;
    setEdited(new Set());
    payment.pay({ amount, currency, note });
  };

  return (
    <section className="card checkout" aria-labelledby="checkout-title">
      <div className="card-head">
        <h2 id="checkout-title">Checkout</h2>
        <span className="muted">Order #1042</span>
      </div>

      <form onSubmit={submit} className="form" noValidate>
        <div className="field-row">
          <div className="field grow">
            <label htmlFor="amount">Amount</label>
            <input
              id="amount"
              data-testid="amount"
              inputMode="decimal"
              autoComplete="off"
              value={amountText}
              readOnly={payment.isPending}
              onChange={(event) => {
                setAmountText(event.target.value);
                edit('amount');
              }}
              aria-invalid={amountError ? true : undefined}
              aria-describedby={amountError ? 'amount-error' : undefined}
            />
            {amountError ? (
              <span className="field-error" id="amount-error" data-testid="amount-error">
                {amountError}
              </span>
            ) : null}
          </div>
          <div className="field">
            <label htmlFor="currency">Currency</label>
            <select
              id="currency"
              data-testid="currency"
              value={currency}
              disabled={payment.isPending}
              onChange={(event) => {
                setCurrency(event.target.value as Currency);
                edit('currency');
              }}
              aria-invalid={serverError('currency') ? true : undefined}
            >
              {CURRENCIES.map((code) => (
                <option key={code}>{code}</option>
              ))}
            </select>
            {serverError('currency') ? <span className="field-error">{serverError('currency')}</span> : null}
          </div>
        </div>
        <div className="field">
          <label htmlFor="note">Note</label>
          <input
            id="note"
            data-testid="note"
            value={note}
            maxLength={140}
            readOnly={payment.isPending}
            onChange={(event) => {
              setNote(event.target.value);
              edit('note');
            }}
            aria-invalid={serverError('note') ? true : undefined}
          />
          {serverError('note') ? <span className="field-error">{serverError('note')}</span> : null}
        </div>

        <div className="intent">
          <span className="muted">Payment key</span>
          <code data-testid="intent-key" data-key={payment.key} title={payment.key}>
            {shortKey(payment.key)}
          </code>
          <button type="button" className="link" onClick={payment.startOver} disabled={payment.isPending}>
            New payment
          </button>
        </div>

        <button
          type="submit"
          className="pay"
          data-testid="pay"
          disabled={amount === null}
          aria-busy={payment.isPending}
        >
          {payment.isPending ? <span className="spinner" aria-hidden="true" /> : null}
          {payment.isWaiting
            ? 'Waiting for the network…'
            : payment.isPending
              ? 'Processing…'
              : `Pay ${amount === null ? '' : formatMoney(amount, currency)}`}
        </button>
        <p className="hint-line">
          Click twice, or pay from a second tab: every click of this payment sends the same key, so it is charged once.
        </p>
      </form>

      {/* The latest payment's state, for tests: data-status (TanStack Query's), data-paused, data-resumed, data-restored. */}
      <div
        role="status"
        aria-live="polite"
        className="answer-slot"
        data-testid="payment"
        data-status={payment.latest?.status ?? 'none'}
        data-paused={String(payment.latest?.paused === true)}
        data-resumed={String(payment.latest?.resumed === true)}
        data-restored={String(payment.latest?.restored === true)}
        data-key={payment.latest?.key}
      >
        {outcome && !allCorrected ? (
          <Answer outcome={outcome} resumed={payment.latest?.resumed === true} onStartOver={payment.startOver} />
        ) : null}
      </div>
    </section>
  );
}

function Answer({
  outcome,
  resumed,
  onStartOver,
}: {
  outcome: PaymentOutcome;
  /** The payment was resumed after a reload, not started by a click in this page. */
  resumed: boolean;
  onStartOver: () => void;
}) {
  const paid = outcome.payment;
  return (
    <div
      className={`answer ${outcome.tone}`}
      data-testid={paid ? 'answer' : outcome.pending ? 'answer-pending' : 'answer-error'}
      data-payment-id={paid?.id}
      data-tone={outcome.tone}
    >
      <p className="answer-headline">
        {outcome.headline}
        {outcome.replayed ? <ReplayedBadge testId="answer-replayed" /> : null}
        {resumed ? (
          <span className="badge resumed" data-testid="answer-resumed">
            Resumed after a reload
          </span>
        ) : null}
        {outcome.restored ? (
          <span className="badge resumed" data-testid="answer-restored">
            Paid before the reload
          </span>
        ) : null}
      </p>
      {outcome.detail ? <p className="answer-detail">{outcome.detail}</p> : null}
      {paid ? (
        <p className="answer-detail">
          Receipt <code>{paid.id}</code>
        </p>
      ) : null}
      {outcome.offerNewIntent ? (
        <button type="button" className="link inline" onClick={onStartOver}>
          Start a new payment
        </button>
      ) : null}
    </div>
  );
}
