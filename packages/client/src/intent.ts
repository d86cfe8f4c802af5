import { isValidIdempotencyKey } from '@trpc-idempotency/protocol';
import { randomIdempotencyKey } from './keys.js';

/** The part of the Web Storage API an intent needs; `sessionStorage` and `localStorage` both fit. */
export interface KeyStorage {
  getItem(name: string): string | null;
  setItem(name: string, value: string): void;
  removeItem(name: string): void;
}

/** Options of {@link createIntent}. */
export interface IntentOptions {
  /**
   * Where the key survives a page reload: `'session'` (sessionStorage), `'local'` (localStorage) or any
   * {@link KeyStorage}. Without it the key lives in memory. Where the storage is missing or throws (server
   * rendering, private mode), the key falls back to memory.
   */
  storage?: 'session' | 'local' | KeyStorage;
  /** The storage entry's name; one per form or checkout. Default `trpc-idempotency:intent`. */
  storageKey?: string;
  /** Makes a new key. Default: a random UUID. */
  generate?: () => string;
}

/** One user intent (a form, a checkout) and the key that names it until it succeeds. */
export interface Intent {
  /** The current key. The same across clicks, retries and, with storage, page reloads. */
  readonly key: string;
  /** The mutation options that send this key: `mutate(input, intent.options())`. */
  options(): { context: { idempotencyKey: string } };
  /** Starts a new intent with a new key, and returns it. Call it when the user begins something new. */
  rotate(): string;
  /** Marks the intent as done: the next submission is a new intent. Same as {@link rotate}. */
  complete(): string;
  /**
   * Runs a mutation with the current key and rotates the key when it succeeds. On failure the key stays,
   * so trying again is the same intent and cannot run twice.
   */
  run<T>(mutation: (key: string) => Promise<T>): Promise<T>;
}

const DEFAULT_STORAGE_KEY = 'trpc-idempotency:intent';

/**
 * Holds the key of one user intent, so that a double click, a retry or a reload sends the same key, and
 * a new intent after success gets a new one.
 *
 * @example
 * const checkout = createIntent({ storage: 'session', storageKey: 'checkout' });
 * button.onclick = () => checkout.run((key) => client.orders.create.mutate(cart, { context: { idempotencyKey: key } }));
 */
export function createIntent(options: IntentOptions = {}): Intent {
  if (typeof options !== 'object' || options === null)
    throw new TypeError('createIntent(options): options must be an object.');
  const storageKey = options.storageKey ?? DEFAULT_STORAGE_KEY;
  if (typeof storageKey !== 'string' || storageKey === '') {
    throw new TypeError('createIntent: option "storageKey" must be a non-empty string.');
  }
  if (options.generate !== undefined && typeof options.generate !== 'function') {
    throw new TypeError('createIntent: option "generate" must be a function.');
  }
  const storage = resolveStorage(options.storage);
  const generate = options.generate ?? randomIdempotencyKey;

  const fresh = (): string => {
    const key = generate();
    if (typeof key !== 'string' || !isValidIdempotencyKey(key)) {
      throw new TypeError('createIntent: option "generate" returned an invalid idempotency key.');
    }
    safely(() => storage?.setItem(storageKey, key));
    return key;
  };
  const stored = safely(() => storage?.getItem(storageKey));
  let key = typeof stored === 'string' && isValidIdempotencyKey(stored) ? stored : fresh();

  const rotate = () => {
    key = fresh();
    return key;
  };
  return {
    get key() {
      return key;
    },
    options: () => ({ context: { idempotencyKey: key } }),
    rotate,
    complete: rotate,
    async run(mutation) {
      const used = key;
      const result = await mutation(used);
      // Only the intent that succeeded is finished; a rotate() meanwhile already started a new one.
      if (key === used) rotate();
      return result;
    },
  };
}

function resolveStorage(storage: IntentOptions['storage']): KeyStorage | undefined {
  if (storage === undefined) return undefined;
  if (storage === 'session' || storage === 'local') {
    const name = storage === 'session' ? 'sessionStorage' : 'localStorage';
    return safely(() => (globalThis as Record<string, unknown>)[name] as KeyStorage | undefined);
  }
  if (typeof storage !== 'object' || storage === null || typeof storage.getItem !== 'function') {
    throw new TypeError(`createIntent: option "storage" must be 'session', 'local' or a Storage object.`);
  }
  return storage;
}

function safely<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch {
    // Storage can throw (quota, private mode, blocked cookies); the key then lives in memory only.
    return undefined;
  }
}
