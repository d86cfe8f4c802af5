import {
  canonicalJson,
  checkOptions,
  isBoolean,
  isFunction,
  isValidIdempotencyKey,
  nonEmptyString,
  type OptionRules,
  withoutAliasing,
} from '@trpc-idempotency/protocol';
import type { IntentRecord, PendingCall } from './intentRecord.js';
import { type IntentAction, type IntentState, isSharedSuccess, reduceIntent } from './intentState.js';
import { type InputSerializer, intentStorage, type KeyStorage, resolveStorage } from './intentStorage.js';
import { randomIdempotencyKey } from './keys.js';
import { type TabChannel, type TabMessage, tabChannel } from './tabs/tabChannel.js';
import { isTabLockHeld, withTabLock } from './tabs/tabLock.js';

export type { PendingCall } from './intentRecord.js';
export type { InputSerializer, KeyStorage } from './intentStorage.js';

/** Options of {@link createIntent}. */
export interface IntentOptions {
  /**
   * Where the key lives: `'local'` (localStorage: every tab of the origin shares the intent, across
   * reloads), `'session'` (sessionStorage: this tab, across reloads) or any {@link KeyStorage}. Without it
   * the key lives in memory. Where the storage is missing or throws (server rendering, private mode), the
   * key falls back to memory.
   */
  storage?: 'session' | 'local' | KeyStorage;
  /** The storage entry's name; one per form or checkout. Default `trpc-idempotency:intent`. */
  storageKey?: string;
  /** Makes a new key. Default: a random UUID. */
  generate?: () => string;
  /**
   * Asks the server for each new key (the `'server'` key strategy, docs/protocol.md §1), for example
   * `() => client.idempotencyKey.query()`. It may answer the key or `{ key }`. Replaces `generate`.
   */
  issue?: () => Promise<string | { key: string }>;
  /**
   * Whether the other tabs of the origin share this intent: they see each new key at once, and a call
   * that another tab has in flight is waited for, and its result shared, instead of sent again. Default:
   * true with `'local'` or a custom storage, false with `'session'` or memory (which no other tab sees).
   */
  crossTab?: boolean;
  /** How inputs of pending calls are written to storage (see {@link Intent.pending}). Default: as they are. */
  serializer?: InputSerializer;
}

/** What a call of {@link Intent.run} may say about itself. */
export interface IntentCall {
  /** The key to send: one the caller captured earlier (a mutation's own key). Default: the current key. */
  key?: string;
  /**
   * The call's input. With it, the call is kept in storage until it ends, so that a reload resumes it
   * (see {@link Intent.pending}), and another tab's result is shared only when that tab sent an equal input.
   */
  input?: unknown;
  /** Whether `run` keeps the call (with `input`) in storage while it runs. Default true. */
  track?: boolean;
  /**
   * Called when this call sent nothing and took the result of another call with its key (another tab's,
   * or an earlier click's), so the page can say "paid in another tab".
   */
  onShared?: () => void;
}

/** One user intent (a form, a checkout) and the key that names it until it succeeds. */
export interface Intent {
  /**
   * The current key. The same across clicks, retries and, with storage, reloads and tabs. With `issue`,
   * it is `''` until the server's key has arrived (see {@link Intent.ready}).
   */
  readonly key: string;
  /** Resolves to the current key once there is one (at once, unless a server key is on its way). */
  ready(): Promise<string>;
  /** The mutation options that send this key: `mutate(input, intent.options())`. */
  options(): { context: { idempotencyKey: string } };
  /** Starts a new intent with a new key, and returns it (`''` while a server key is on its way). */
  rotate(): string;
  /** Marks the intent as done: the next submission is a new intent. Same as {@link rotate}. */
  complete(): string;
  /**
   * Runs a mutation with the intent's key and rotates the key when it succeeds. On failure the key stays,
   * so trying again is the same intent and cannot run twice. While a call with this key runs in any tab
   * that shares the intent, another waits for it and gets its result instead of sending its own requests.
   */
  run<T>(mutation: (key: string) => Promise<T>, call?: IntentCall): Promise<T>;
  /** Calls `listener` whenever the key changes, in this tab or another. Returns the unsubscribe function. */
  subscribe(listener: () => void): () => void;
  /** Calls that were in flight, or waiting for the network, when the page went away: resume them with their key. */
  pending(): PendingCall[];
}

/** What the package's own integrations need of an intent beyond its public API. */
export interface IntentInternals {
  /** Keeps a call in storage until {@link untrack}: from the moment a mutation gets its key, even while paused. */
  track(key: string, input: unknown): void;
  untrack(key: string): void;
  /** Whether another tab is running a call with this key now (and will finish it itself). */
  runningElsewhere(key: string): Promise<boolean>;
}

/** Finds the internals of an intent made by {@link createIntent} (of any copy of this package). */
export const INTENT_INTERNALS: unique symbol = Symbol.for('trpc-idempotency.intentInternals') as never;

const DEFAULT_STORAGE_KEY = 'trpc-idempotency:intent';
/** How long a tab that waited for another's call waits for its result message after the lock came free. */
const OUTCOME_GRACE_MS = 100;

/**
 * Holds the key of one user intent, so that a double click, a retry, a reload or a second tab sends the
 * same key, and a new intent after success gets a new one, in every tab.
 *
 * @example
 * const checkout = createIntent({ storage: 'local', storageKey: 'checkout' });
 * button.onclick = () => checkout.run((key) => client.orders.create.mutate(cart, { context: { idempotencyKey: key } }));
 */
export function createIntent(options: IntentOptions = {}): Intent {
  checkOptions('createIntent', options, INTENT_RULES);
  const storageKey = options.storageKey ?? DEFAULT_STORAGE_KEY;
  const { serializer } = options;
  const storage = resolveStorage(options.storage);
  const kind = storage === undefined ? 'memory' : typeof options.storage === 'string' ? options.storage : 'custom';
  const crossTab = options.crossTab ?? (kind === 'local' || kind === 'custom');
  // Memory keys are this object's own; stored ones are shared by every intent of the same storage and name.
  const channel: TabChannel | undefined =
    kind === 'memory' ? undefined : tabChannel(`${kind}:${storageKey}`, crossTab && kind !== 'session');
  const channelName = `${kind}:${storageKey}`;
  const stored = intentStorage(storage, storageKey, serializer);
  const generate = options.generate ?? randomIdempotencyKey;

  let state: IntentState = {};
  const listeners = new Set<() => void>();
  const dispatch = (action: IntentAction): IntentState => {
    const change = reduceIntent(state, action);
    state = change.state;
    if (change.save) stored.writeRecord(change.save);
    if (change.post) channel?.post({ type: 'key', record: change.post });
    if (change.tell) for (const listener of [...listeners]) listener();
    return state;
  };
  /** The latest record from memory, storage and the tabs' messages; storage is brought up to date. */
  const current = (): IntentRecord | undefined =>
    dispatch({ type: 'read', stored: stored.readRecord(), posted: channel?.latest.record }).record;
  const notify = () => {
    current();
    dispatch({ type: 'heard' });
  };

  const checkKey = (key: unknown, source: string): string => {
    const value = typeof key === 'object' && key !== null ? (key as { key?: unknown }).key : key;
    if (typeof value !== 'string' || !isValidIdempotencyKey(value)) {
      throw new TypeError(`createIntent: option "${source}" gave an invalid idempotency key.`);
    }
    return value;
  };
  const made = (record: IntentRecord): IntentRecord => {
    const { record: latest } = dispatch({ type: 'made', record });
    notify();
    return latest!;
  };

  /** Starts a new key after `after` (or the first one). Server keys arrive later, while `state.issuing`. */
  const next = (after: IntentRecord | undefined): IntentRecord | undefined => {
    const n = (after?.n ?? 0) + 1;
    if (!options.issue) return made({ key: checkKey(generate(), 'generate'), n });
    const request = options.issue().then((answer) => made({ key: checkKey(answer, 'issue'), n }));
    dispatch({ type: 'issuing', request });
    // A failed request leaves no key; the next ready() asks again.
    const issued = () => dispatch({ type: 'issued', request });
    void request.then(issued, issued);
    return undefined;
  };

  const ready = async (): Promise<string> => {
    const record = current();
    if (record && !state.issuing) return record.key;
    if (!state.issuing) next(record);
    await state.issuing;
    return current()!.key;
  };

  const rotate = (): string => next(current())?.key ?? '';

  const internals: IntentInternals = {
    track: stored.track,
    untrack: stored.untrack,
    runningElsewhere: async (key) => crossTab && channel !== undefined && isTabLockHeld(`${channelName}:${key}`),
  };

  const inputIdOf = (input: unknown): string | undefined => {
    if (input === undefined) return undefined;
    try {
      return canonicalJson(withoutAliasing((serializer ? serializer.serialize(input) : input) ?? null));
    } catch {
      return undefined;
    }
  };

  const run = async <T>(mutation: (key: string) => Promise<T>, call: IntentCall = {}): Promise<T> => {
    const key = call.key ?? (await ready());
    const inputId = inputIdOf(call.input);
    const tracked = call.input !== undefined && call.track !== false;
    return withTabLock(`${channelName}:${key}`, crossTab && channel !== undefined, async (waited) => {
      // Another call with this key held the lock: its result, when it succeeded, is this call's result too.
      const earlier = channel?.outcomes.get(key);
      const known = isSharedSuccess(earlier, key, inputId)
        ? earlier
        : waited && (await awaitOutcome(channel, key, inputId));
      if (known) {
        if (tracked) internals.untrack(key);
        try {
          call.onShared?.();
        } catch {
          // Like onAttempt: a page's hook never changes the outcome of the call.
        }
        return known.data as T;
      }
      if (tracked) internals.track(key, call.input);
      let result: T;
      try {
        result = await mutation(key);
      } finally {
        if (tracked) internals.untrack(key);
      }
      // Only the intent that succeeded is finished; a rotate() meanwhile already started a new one.
      if (current()?.key === key) rotate();
      channel?.post({ type: 'outcome', key, inputId, ok: true, data: result, hasData: true });
      return result;
    });
  };

  // Changes from other intents and tabs arrive as messages; a localStorage change also as a storage event.
  const watch = (): (() => void) => {
    const unsubscribe = channel?.subscribe((message: TabMessage) => {
      if (message.type === 'key') notify();
    });
    const onStorage = (event: Event) => {
      const changed = (event as { key?: string | null }).key;
      if (changed === storageKey || changed === null) notify();
    };
    const target = kind === 'local' ? (globalThis as Partial<EventTarget>) : undefined;
    target?.addEventListener?.('storage', onStorage);
    return () => {
      unsubscribe?.();
      target?.removeEventListener?.('storage', onStorage);
    };
  };

  let stopWatching: (() => void) | undefined;
  const subscribe = (listener: () => void): (() => void) => {
    if (listeners.size === 0) {
      notify();
      stopWatching = watch();
    }
    listeners.add(listener);
    return () => {
      listeners.delete(listener);
      if (listeners.size === 0) stopWatching?.();
    };
  };

  if (!current()) next(undefined);

  const intent: Intent & { [INTENT_INTERNALS]: IntentInternals } = {
    get key() {
      return current()?.key ?? '';
    },
    ready,
    options: () => ({ context: { idempotencyKey: current()?.key ?? '' } }),
    rotate,
    complete: rotate,
    run,
    subscribe,
    pending: stored.pending,
    [INTENT_INTERNALS]: internals,
  };
  return intent;
}

const INTENT_RULES: OptionRules<IntentOptions> = {
  storage: (value) =>
    value === 'session' ||
    value === 'local' ||
    (typeof value === 'object' && value !== null && typeof (value as KeyStorage).getItem === 'function')
      ? undefined
      : "must be 'session', 'local' or a Storage object",
  storageKey: nonEmptyString,
  generate: isFunction,
  issue: isFunction,
  crossTab: isBoolean,
  serializer: (value) => {
    const serializer = value as Partial<InputSerializer> | null;
    return typeof serializer?.serialize === 'function' && typeof serializer.deserialize === 'function'
      ? undefined
      : 'must have serialize and deserialize';
  },
};

/** The internals of an intent made by {@link createIntent}, or undefined for anything else. */
export function intentInternals(intent: Intent): IntentInternals | undefined {
  return (intent as Partial<Record<typeof INTENT_INTERNALS, IntentInternals>>)[INTENT_INTERNALS];
}

/**
 * After the lock came free, the holder's result message may still be on its way (the browser delivers
 * lock grants and messages on separate paths). Waits for it a little before asking the server, which
 * would replay the stored result anyway.
 */
function awaitOutcome(channel: TabChannel | undefined, key: string, inputId: string | undefined) {
  if (!channel) return undefined;
  return new Promise<Extract<TabMessage, { type: 'outcome' }> | undefined>((resolve) => {
    const done = (value: Extract<TabMessage, { type: 'outcome' }> | undefined) => {
      clearTimeout(timer);
      unsubscribe();
      resolve(value);
    };
    const unsubscribe = channel.subscribe((message) => {
      if (isSharedSuccess(message, key, inputId)) done(message);
    });
    const timer = setTimeout(() => done(undefined), OUTCOME_GRACE_MS);
  });
}
