import { isIdempotencyError } from '@trpc-idempotency/client';
import type { AttemptRow, PaymentCall } from './callLog';
import { formatMoney } from './money';

// Every sentence the page says about a payment, in one place. Each says what happened to the money,
// and says "may have gone through" whenever the page cannot know.

/** How a message is shown: green, neutral, amber, red. */
export type Tone = 'ok' | 'info' | 'warn' | 'bad';

/** The form's fields the server can refuse. */
export type Field = 'amount' | 'currency' | 'note';

/** The checkout's answer to one click. */
export interface PaymentOutcome {
  tone: Tone;
  /** One plain sentence on what happened to the money. */
  headline: string;
  detail?: string;
  payment?: { id: string; amount: number; currency: string };
  /** The answer was the server's stored outcome, not a new run of the payment. */
  replayed?: boolean;
  /** The server's validation messages, by field. */
  fieldErrors?: Partial<Record<Field, string>>;
  /** This intent was paid with other details: offer to start a new payment. */
  offerNewIntent?: boolean;
  /** The payment has not ended yet: it waits for the network, or is being resumed. */
  pending?: boolean;
  /** The payment went through before this page loaded; the page knows its receipt only. */
  restored?: boolean;
}

/**
 * A try may have reached the server and run: no answer came back, or the server failed while running it.
 * A try cut off by the network going away ('offline') may have reached it too.
 */
const UNCLEAR = new Set(['network', 'timeout', 'offline']);
/** Reasons the client retries (docs/protocol.md §4): a call that fails with one of them ran out of tries. */
const RETRIED = new Set(['network', 'timeout', 'in_progress', 'store_unavailable', 'rate_limited', 'server_error']);

const seconds = (ms: number) => `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
const nth = (n: number) => `${n}${n === 1 ? 'st' : n === 2 ? 'nd' : n === 3 ? 'rd' : 'th'}`;

/** What the earlier tries of a call tell about it. */
function history(call: PaymentCall | undefined) {
  const ended = (call?.attempts ?? []).filter((row) => row.outcome !== 'started');
  const failed = ended.filter((row) => row.outcome === 'retrying' || row.outcome === 'failed');
  return {
    failed,
    lostAnswer: failed.some((row) => UNCLEAR.has(row.reason ?? '')),
    waitedForOther: failed.some((row) => row.reason === 'in_progress'),
    last: ended.at(-1),
  };
}

/** A short phrase for why one try failed. */
function why(row: AttemptRow): string {
  switch (row.reason) {
    case 'network':
      return 'no answer: the connection dropped';
    case 'offline':
      return 'no network';
    case 'timeout':
      return 'no answer in time';
    case 'in_progress':
      return 'already being processed by another click or tab';
    case 'store_unavailable':
      return 'the payment service cannot reach its store';
    case 'rate_limited':
      return 'too many requests';
    case 'server_error':
      return row.status === 503 ? 'the server was busy (503)' : `the server failed (${row.status ?? 'error'})`;
    case 'payload_mismatch':
      return 'refused: this payment was already made with other details';
    case 'key_rejected':
      return 'refused: the key was not accepted';
    case 'client_error':
      return row.status === 400 ? 'refused: the details are not valid' : `refused (${row.status ?? 'error'})`;
    case 'aborted':
      return 'cancelled';
    default:
      return 'failed';
  }
}

/** One try of the timeline, in words a shopper understands, and the technical detail beside it. */
export function describeAttempt(row: AttemptRow): { text: string; tone: Tone | 'pending'; detail: string } {
  const took = row.durationMs === undefined ? '' : ` · ${Math.round(row.durationMs)} ms`;
  const parts = [`try ${row.attempt}`];
  if (row.reason) parts.push(row.reason);
  // A lost answer may still have had its status line: say so, but after the reason.
  if (row.status) parts.push(row.reason === 'network' ? `headers ${row.status}, no body` : `HTTP ${row.status}`);
  else if (row.outcome === 'succeeded') parts.push(row.replayed ? 'HTTP 200 · Idempotent-Replayed' : 'HTTP 200');
  const detail = `${parts.join(' · ')}${took}`;
  switch (row.outcome) {
    case 'started':
      return {
        text: row.attempt === 1 ? 'Sending the payment…' : 'Sending it again, same key…',
        tone: 'pending',
        detail,
      };
    case 'succeeded':
      return row.replayed
        ? { text: 'Got the stored answer back: no new charge', tone: 'ok', detail }
        : { text: 'Payment made', tone: 'ok', detail };
    case 'retrying': {
      // The link does not count it as a try: the next one goes out when the network is back.
      if (row.reason === 'offline') {
        return { text: 'No network: waiting for it, then sending it again, same key', tone: 'info', detail };
      }
      const again = row.reason === 'in_progress' ? 'asking again' : 'trying again';
      return {
        text: `${capitalize(why(row))}; ${again} in ${seconds(row.delayMs)}`,
        tone: row.reason === 'in_progress' ? 'info' : 'warn',
        detail,
      };
    }
    case 'failed': {
      // A reason the client retries, ending the call: the tries ran out.
      const gaveUp = RETRIED.has(row.reason ?? '')
        ? `; gave up after ${row.attempt} ${row.attempt === 1 ? 'try' : 'tries'}`
        : '';
      return { text: `${capitalize(why(row))}${gaveUp}`, tone: 'bad', detail };
    }
    case 'aborted':
      return { text: 'Cancelled', tone: 'bad', detail };
  }
}

/** One line for a whole call, at the head of its group in the timeline. */
export function summarizeCall(call: PaymentCall): { text: string; tone: Tone | 'pending' } {
  const { lostAnswer, waitedForOther, last } = history(call);
  switch (call.state) {
    case 'running':
      return last?.outcome === 'retrying' && last.reason === 'offline'
        ? { text: 'Waiting for the network…', tone: 'pending' }
        : { text: 'Working on it…', tone: 'pending' };
    case 'succeeded':
      if (!last?.replayed) return { text: 'Paid: the server made the payment once', tone: 'ok' };
      if (lostAnswer) return { text: 'Paid once: the lost answer was recovered', tone: 'ok' };
      if (waitedForOther) return { text: 'Paid once: waited for the click or tab already paying', tone: 'ok' };
      return { text: 'Already paid: got the stored receipt back', tone: 'ok' };
    case 'failed':
      return lostAnswer || last?.reason === 'server_error'
        ? { text: 'Not confirmed: it may have gone through', tone: 'warn' }
        : { text: 'Not paid: nothing was charged', tone: 'bad' };
    case 'aborted':
      return { text: 'Cancelled', tone: 'bad' };
  }
}

/** How a payment's answer came: `replayed`, the server's stored answer; `shared`, another tab's or click's answer, with no request of its own. */
export interface AnswerSource {
  replayed: boolean;
  shared: boolean;
}

/** The checkout's answer to a payment that succeeded; `call` is this tab's call of its key, if it made one. */
export function paidOutcome(
  payment: { id: string; amount: number; currency: string },
  source: AnswerSource,
  call: PaymentCall | undefined,
): PaymentOutcome {
  const { id, amount, currency } = payment;
  const money = formatMoney(amount, currency);
  const replayed = source.replayed || source.shared;
  const base = { tone: 'ok' as const, payment: { id, amount, currency }, replayed };
  if (source.shared) {
    return {
      ...base,
      headline: `Paid ${money}, once.`,
      detail: 'Another tab or click was paying this payment. This one sent nothing and got the same receipt.',
    };
  }
  const { failed, lostAnswer, waitedForOther } = history(call);
  if (!replayed) {
    if (failed.length === 0) return { ...base, headline: `Paid ${money}.` };
    const tries = failed.length === 1 ? 'The first try' : `The first ${failed.length} tries`;
    return {
      ...base,
      headline: `Paid ${money}, once.`,
      detail: `${tries} failed (${why(failed[0]!)}); the ${nth(failed.length + 1)}, with the same key, made the payment.`,
    };
  }
  if (call?.resumed && !lostAnswer && !waitedForOther) {
    return {
      ...base,
      headline: `Paid ${money}, once.`,
      detail:
        'It reached the server before the reload, and its answer went with the page. Sent again with its own key, it got the stored receipt: nothing was charged again.',
    };
  }
  if (lostAnswer) {
    return {
      ...base,
      headline: 'Your payment went through; the answer was lost and has been recovered.',
      detail: `Charged once: ${money}. The retry got the server's stored answer instead of paying again.`,
    };
  }
  if (waitedForOther) {
    return {
      ...base,
      headline: `Paid ${money}, once.`,
      detail: 'Another click or tab was already paying this. This one waited for it and got the same receipt.',
    };
  }
  return {
    ...base,
    headline: `Already paid: ${money}. Nothing was charged again.`,
    detail: 'This payment was made earlier, from another tab or click. Here is its receipt.',
  };
}

/** The checkout's answer on a page loaded just after a payment went through (checkout/lastPayment.ts). */
export function restoredOutcome(payment: {
  id: string;
  amount: number;
  currency: string;
  paidAt: number;
}): PaymentOutcome {
  const { id, amount, currency, paidAt } = payment;
  const at = new Date(paidAt).toLocaleTimeString('en-GB');
  return {
    tone: 'ok',
    restored: true,
    payment: { id, amount, currency },
    headline: `Paid ${formatMoney(amount, currency)}.`,
    detail: `This payment went through at ${at}, before the page was loaded again; it was charged once. Paying now starts a new payment, with a new key.`,
  };
}

/** The checkout's answer while a payment waits for this tab's network (TanStack Query paused it). */
export function waitingOutcome(resumed: boolean): PaymentOutcome {
  return {
    tone: 'info',
    pending: true,
    headline: 'Waiting for the network — this payment will be sent, once, when you are back online.',
    detail: resumed
      ? 'It was started before the reload and kept its key, so it cannot be charged twice.'
      : 'It keeps its key, so it cannot be charged twice, even if you reload the page.',
  };
}

/** The checkout's answer while a payment that a reload interrupted is being sent again. */
export function resumingOutcome(): PaymentOutcome {
  return {
    tone: 'info',
    pending: true,
    headline: 'Finishing the payment you started before the reload, with its own key, so it is charged once.',
  };
}

/** The checkout's answer to a click whose call failed. */
export function failedOutcome(error: unknown, call: PaymentCall | undefined): PaymentOutcome {
  const { lostAnswer, last } = history(call);
  const fieldErrors = validationErrors(error);
  if (fieldErrors) {
    return {
      tone: 'bad',
      headline: 'Nothing was charged: please check the highlighted field.',
      detail: 'Correct it and pay again: it is still the same payment.',
      fieldErrors,
    };
  }
  if (isIdempotencyError(error, 'PAYLOAD_MISMATCH')) {
    return {
      tone: 'bad',
      headline: 'Nothing new was charged: this payment was already made with other details.',
      detail: 'To pay again, start a new payment.',
      offerNewIntent: true,
    };
  }
  const safeAgain = 'Paying again is safe: it is the same payment, so it cannot be charged twice.';
  if (lostAnswer || last?.reason === 'server_error') {
    const tries = call?.attempts.length ?? 1;
    return {
      tone: 'warn',
      headline: 'We could not confirm the payment: it may have gone through.',
      detail: `No clear answer after ${tries} ${tries === 1 ? 'try' : 'tries'} (${why(last ?? ({} as AttemptRow))}). ${safeAgain}`,
    };
  }
  if (isIdempotencyError(error, 'STORE_UNAVAILABLE')) {
    return {
      tone: 'bad',
      headline: 'Nothing was charged: payments are paused because the payment service cannot reach its store.',
      detail: `Try again in a moment. ${safeAgain}`,
    };
  }
  if (isIdempotencyError(error, 'IN_PROGRESS')) {
    return {
      tone: 'warn',
      headline: 'This payment is still being processed by another click or tab.',
      detail: 'Nothing new was charged by this click. The ledger shows the payment once it is made.',
    };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { tone: 'bad', headline: 'Nothing was charged: the payment was refused.', detail: message };
}

/** The server's validation messages by field (`error.data.zodError`, from the example's errorFormatter). */
function validationErrors(error: unknown): PaymentOutcome['fieldErrors'] | undefined {
  const data = (error as { data?: { zodError?: { fieldErrors?: Record<string, string[] | undefined> } | null } })?.data;
  const fields = data?.zodError?.fieldErrors;
  if (!fields) return undefined;
  const found: Partial<Record<Field, string>> = {};
  for (const field of ['amount', 'currency', 'note'] as const) {
    const first = fields[field]?.[0];
    if (first) found[field] = first;
  }
  return Object.keys(found).length > 0 ? found : undefined;
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
