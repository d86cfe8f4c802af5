/** Turns what the customer typed ("42", "42.5", "42.50") into minor units, or null when it is not an amount. */
export function parseAmount(text: string): number | null {
  const match = /^\s*(\d{1,7})(?:[.,](\d{1,2}))?\s*$/.exec(text);
  if (!match) return null;
  const cents = Number(match[1]) * 100 + Number((match[2] ?? '').padEnd(2, '0'));
  return cents > 0 ? cents : null;
}

/** Formats minor units for people: 4200 EUR is "€42.00". */
export function formatMoney(amount: number, currency: string): string {
  return new Intl.NumberFormat('en-US', { style: 'currency', currency }).format(amount / 100);
}

/** The first characters of a key, enough to tell intents apart on screen. */
export function shortKey(key: string): string {
  return key.length > 8 ? `${key.slice(0, 8)}…` : key;
}

/** A stable hue for a key, so that all attempts of one intent share a colour. */
export function keyHue(key: string): number {
  let hash = 0;
  for (let i = 0; i < key.length; i++) hash = (hash * 31 + key.charCodeAt(i)) >>> 0;
  return hash % 360;
}

/** What a payment asked for, in words ("€42.00"), from a payment's input; '' when it is not one. */
export function paymentLabel(input: unknown): string {
  const { amount, currency } = (input ?? {}) as { amount?: unknown; currency?: unknown };
  if (typeof amount !== 'number' || typeof currency !== 'string') return '';
  try {
    return formatMoney(amount, currency);
  } catch {
    return '';
  }
}
