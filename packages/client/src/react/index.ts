import { useCallback, useState } from 'react';
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
  /** Starts a new intent (call it after success) and returns the new key. */
  rotate: () => string;
  /** Runs a mutation with the key and rotates it when the mutation succeeds. */
  run: <T>(mutation: (key: string) => Promise<T>) => Promise<T>;
}

/**
 * One idempotency key per intent (a form, a checkout) for a React component. The key stays the same
 * across re-renders, double clicks and retries, and with `storage` across reloads; it rotates after success.
 *
 * @example
 * const { key, run } = useIdempotencyKey('checkout', { storage: 'session' });
 * const pay = () => run((idempotencyKey) => trpc.orders.create.mutate(cart, { context: { idempotencyKey } }));
 */
export function useIdempotencyKey(name?: string, options: UseIdempotencyKeyOptions = {}): IdempotencyKeyHandle {
  const [intent] = useState<Intent>(() =>
    createIntent({ storage: options.storage, storageKey: `trpc-idempotency:${name ?? 'intent'}` }),
  );
  const [key, setKey] = useState(() => intent.key);
  const rotate = useCallback(() => {
    const next = intent.rotate();
    setKey(next);
    return next;
  }, [intent]);
  const run = useCallback(
    async <T>(mutation: (key: string) => Promise<T>): Promise<T> => {
      const result = await intent.run(mutation);
      setKey(intent.key);
      return result;
    },
    [intent],
  );
  return { key, rotate, run };
}
