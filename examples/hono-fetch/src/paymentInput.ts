import { z } from 'zod';

/** The currencies a payment can be in. */
export const CURRENCIES = ['EUR', 'USD', 'GBP'] as const;

/** The largest single payment, in minor units: 1,000,000 is 10,000.00. A larger amount gets 400. */
export const MAX_PAYMENT = 1_000_000;

/** What `payments.create` takes; the messages name the limit, as the 400 answer says them. */
export const paymentInput = z.object({
  /** In minor units: 1250 is 12.50. */
  amount: z
    .number({ error: 'Enter an amount.' })
    .int({ error: 'Use at most two decimals.' })
    .positive({ error: 'The amount must be more than zero.' })
    .max(MAX_PAYMENT, { error: 'A single payment can be at most 10,000.00.' }),
  currency: z.enum(CURRENCIES, { error: `Choose one of ${CURRENCIES.join(', ')}.` }),
  note: z.string().trim().max(140, { error: 'Keep the note to 140 characters.' }).default(''),
});
