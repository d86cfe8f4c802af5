// The latest payment that succeeded, kept in localStorage so that the next page load can still say so.
//
// A payment can succeed while its page is going away: a reload lands just as its answer comes back, or
// the network comes back as the page unloads and the paused payment goes out then. Its intent's key has
// rotated and its pending entry is gone, so without this the next page would show an empty checkout with a
// fresh key and no word of the payment: a shopper would pay again. The receipt is written from the mutation
// cache's onSuccess, which runs before the payment's own onSettled removes its pending entry, so the next
// page always finds one of the two: the receipt, or the pending payment, which it resumes with its key.

const STORAGE_KEY = 'brewline:last-payment';
/** A receipt older than this is not shown on load: it is no longer "the payment you just made". */
const SHOWN_FOR_MS = 30 * 60_000;

/** The latest payment that succeeded in this browser, as the next page load shows it. */
export interface LastPayment {
  /** The intent's idempotency key. */
  key: string;
  id: string;
  amount: number;
  currency: string;
  /** When this browser learned that it was paid (ms since the epoch). */
  paidAt: number;
}

/** Keeps `payment` as the latest one that succeeded. Storage may be blocked: then only this page knows. */
export function rememberPayment(key: string, receipt: unknown): void {
  const { id, amount, currency } = (receipt ?? {}) as Partial<LastPayment>;
  if (typeof id !== 'string' || typeof amount !== 'number' || typeof currency !== 'string') return;
  const payment: LastPayment = { key, id, amount, currency, paidAt: Date.now() };
  try {
    localStorage.setItem(STORAGE_KEY, JSON.stringify(payment));
  } catch {
    // Blocked storage: the page still shows the answer until it is reloaded.
  }
}

/** The latest payment that succeeded before `before` (this page's load), if it is recent. */
export function lastPaymentBefore(before: number, now = Date.now()): LastPayment | undefined {
  let payment: Partial<LastPayment>;
  try {
    payment = JSON.parse(localStorage.getItem(STORAGE_KEY) ?? 'null') ?? {};
  } catch {
    return undefined;
  }
  const { key, id, amount, currency, paidAt } = payment;
  if (typeof key !== 'string' || typeof id !== 'string' || typeof amount !== 'number') return undefined;
  if (typeof currency !== 'string' || typeof paidAt !== 'number') return undefined;
  if (paidAt >= before || now - paidAt > SHOWN_FOR_MS) return undefined;
  return { key, id, amount, currency, paidAt };
}
