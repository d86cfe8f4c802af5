import { useCallback, useReducer, useRef } from 'react';
import { createIntent, type Intent, type IntentOptions } from '../intent.js';

/** Options of {@link useIdempotencyKey}. */
export interface UseIdempotencyKeyOptions {
  /** Keep the key across reloads in `'session'` or `'local'` storage, or any Storage object. */
  storage?: IntentOptions['storage'];
}

/** What {@link useIdempotencyKey} returns. */
export interface IdempotencyKeyHandle {
  /** The key of the current intent: stable across renders, clicks and retries. */
  key: string;
  /** Starts a new intent (call it after success, or when the user starts over) and returns the new key. */
  rotate: () => string;
  /** Runs a mutation with the key and rotates it when the mutation succeeds; on failure the key stays. */
  run: <T>(mutation: (key: string) => Promise<T>) => Promise<T>;
}

/**
 * One idempotency key per intent (a form, a checkout) for a React component. The key stays the same
 * across re-renders, double clicks and retries, and with `storage` across reloads; it rotates after success.
 * The key is made on first render; with server rendering, do not print it into the markup, since the
 * browser's storage decides the key on the client.
 *
 * @example
 * const { run } = useIdempotencyKey('checkout', { storage: 'session' });
 * const pay = () => run((idempotencyKey) => trpc.orders.create.mutate(cart, { context: { idempotencyKey } }));
 */
export function useIdempotencyKey(name?: string, options: UseIdempotencyKeyOptions = {}): IdempotencyKeyHandle {
  const storageKey = `trpc-idempotency:${name ?? 'intent'}`;
  const { storage } = options;
  const held = useRef<{ storageKey: string; storage: UseIdempotencyKeyOptions['storage']; intent: Intent }>(null);
  // A ref rather than useMemo: React may drop memoized values, and an in-memory key must never change by itself.
  if (held.current === null || held.current.storageKey !== storageKey || held.current.storage !== storage) {
    held.current = { storageKey, storage, intent: createIntent({ storage, storageKey }) };
  }
  const intent = held.current.intent;
  const [, rerender] = useReducer((count: number) => count + 1, 0);
  const rotate = useCallback(() => {
    const next = intent.rotate();
    rerender();
    return next;
  }, [intent]);
  const run = useCallback(
    async <T>(mutation: (key: string) => Promise<T>): Promise<T> => {
      try {
        return await intent.run(mutation);
      } finally {
        rerender();
      }
    },
    [intent],
  );
  return { key: intent.key, rotate, run };
}
