import { useCallback, useRef, useSyncExternalStore } from 'react';
import { createIntent, type Intent, type IntentCall, type IntentOptions } from '../intent.js';

/** Options of {@link useIdempotencyKey}. */
export interface UseIdempotencyKeyOptions {
  /**
   * Keep the key across reloads in `'session'` or `'local'` storage (`'local'`: shared by every tab), or
   * any Storage object. The first storage object a component passes is kept for its life, so an object
   * written inline (a new one each render) is fine; to move to another storage, change the `name`.
   */
  storage?: IntentOptions['storage'];
  /** Ask the server for each key (the `'server'` strategy): see `createIntent`'s `issue`. Kept from the first render. */
  issue?: IntentOptions['issue'];
}

/** What {@link useIdempotencyKey} returns. */
export interface IdempotencyKeyHandle {
  /** The key of the current intent: stable across renders, clicks and retries, and the same in every tab that shares it. */
  key: string;
  /** Starts a new intent (call it when the user starts over) and returns the new key. */
  rotate: () => string;
  /** Runs a mutation with the key and rotates it when the mutation succeeds; on failure the key stays. */
  run: <T>(mutation: (key: string) => Promise<T>, call?: IntentCall) => Promise<T>;
  /** The intent itself, for example to hand to the TanStack Query integration. */
  intent: Intent;
}

/**
 * One idempotency key per intent (a form, a checkout) for a React component. The key stays the same
 * across re-renders, double clicks and retries, with `storage` across reloads, and with `'local'` storage
 * in every tab; it rotates after success, and the component re-renders when it does, in any tab.
 * The key is made on first render; with server rendering, do not print it into the markup, since the
 * browser's storage decides the key on the client.
 *
 * @example
 * const { run } = useIdempotencyKey('checkout', { storage: 'local' });
 * const pay = () => run((idempotencyKey) => trpc.orders.create.mutate(cart, { context: { idempotencyKey } }));
 */
export function useIdempotencyKey(name?: string, options: UseIdempotencyKeyOptions = {}): IdempotencyKeyHandle {
  const storageKey = `trpc-idempotency:${name ?? 'intent'}`;
  const { storage } = options;
  // The intent's identity is its name and the kind of storage, never the storage object's identity: an
  // object written inline is new on every render, and a new intent per render would lose the key.
  const identity = `${typeof storage === 'string' ? storage : storage ? 'custom' : 'memory'}\n${storageKey}`;
  const held = useRef<{ identity: string; intent: Intent }>(null);
  // A ref rather than useMemo: React may drop memoized values, and an in-memory key must never change by itself.
  if (held.current === null || held.current.identity !== identity) {
    held.current = { identity, intent: createIntent({ storage, storageKey, issue: options.issue }) };
  }
  const intent = held.current.intent;
  const read = useCallback(() => intent.key, [intent]);
  const key = useSyncExternalStore(intent.subscribe, read, read);
  const rotate = useCallback(() => intent.rotate(), [intent]);
  const run = useCallback(
    <T>(mutation: (key: string) => Promise<T>, call?: IntentCall): Promise<T> => intent.run(mutation, call),
    [intent],
  );
  return { key, rotate, run, intent };
}
