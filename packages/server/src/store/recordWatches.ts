import type { RecordWatch } from './types.js';

/** How a store subscribes to one watched name, and lets go of it: for a store that hears changes from elsewhere. */
export interface WatchSubscriber {
  /** Called when the first watch of `name` starts; the watches' `ready` is what it answers. */
  subscribe(name: string): Promise<void>;
  /** Called when the last watch of `name` ends. */
  unsubscribe(name: string): void;
}

/**
 * The watches of a store (docs/protocol.md §3), by name: the record key, or the channel a store derives from
 * it. A store calls {@link RecordWatches.notify} when it completes or releases a record, or hears that
 * another process did; every watch of that name is woken. One subscription per name is shared by all its
 * watches, made by `subscriber` when the first starts and dropped when the last ends.
 *
 * @example
 * readonly #watches = new RecordWatches();
 * watch(recordKey: string) { return this.#watches.watch(recordKey); }
 * // in complete(), once the outcome is stored:
 * this.#watches.notify(recordKey);
 */
export class RecordWatches {
  readonly #byName = new Map<string, { watches: Set<Watch>; ready: Promise<void> }>();
  readonly #subscriber: WatchSubscriber | undefined;

  constructor(subscriber?: WatchSubscriber) {
    this.#subscriber = subscriber;
  }

  /** How many names are watched now. */
  get size(): number {
    return this.#byName.size;
  }

  /** How many watches are open now, over every name. */
  get watchCount(): number {
    let count = 0;
    for (const entry of this.#byName.values()) count += entry.watches.size;
    return count;
  }

  /** The names watched now: a store re-subscribes them after a reconnect. */
  names(): IterableIterator<string> {
    return this.#byName.keys();
  }

  /** Starts a watch of `name`. */
  watch(name: string): RecordWatch {
    let entry = this.#byName.get(name);
    if (!entry) {
      const ready = this.#subscriber ? subscribeOnce(this.#subscriber, name) : Promise.resolve();
      // A failed subscription is the waiter's to see through `ready`; it is never an unhandled rejection.
      ready.catch(() => {});
      entry = { watches: new Set(), ready };
      this.#byName.set(name, entry);
    }
    const watch = new Watch(entry.ready, () => this.#end(name, watch));
    entry.watches.add(watch);
    return watch;
  }

  /** Wakes every watch of `name`; one that is not waiting now wakes at once when it next waits. */
  notify(name: string): void {
    const entry = this.#byName.get(name);
    if (!entry) return;
    for (const watch of entry.watches) watch.wake();
  }

  /** Wakes every watch: after a reconnect, when notifications may have been missed, each looks again. */
  notifyAll(): void {
    for (const entry of this.#byName.values()) for (const watch of entry.watches) watch.wake();
  }

  #end(name: string, watch: Watch): void {
    const entry = this.#byName.get(name);
    if (!entry?.watches.delete(watch) || entry.watches.size > 0) return;
    this.#byName.delete(name);
    this.#subscriber?.unsubscribe(name);
  }
}

function subscribeOnce(subscriber: WatchSubscriber, name: string): Promise<void> {
  try {
    return subscriber.subscribe(name);
  } catch (error) {
    return Promise.reject(error);
  }
}

class Watch implements RecordWatch {
  readonly ready: Promise<void>;
  readonly #onClose: () => void;
  /** A change came while nobody waited: the next `changed` answers at once. */
  #pending = false;
  #wake: (() => void) | undefined;
  #closed = false;

  constructor(ready: Promise<void>, onClose: () => void) {
    this.ready = ready;
    this.#onClose = onClose;
  }

  wake(): void {
    if (this.#wake) this.#wake();
    else this.#pending = true;
  }

  changed({ timeoutMs, signal }: { timeoutMs: number; signal?: AbortSignal }): Promise<void> {
    if (this.#pending || this.#closed || signal?.aborted) {
      this.#pending = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        this.#wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, timeoutMs));
      signal?.addEventListener('abort', done, { once: true });
      this.#wake = done;
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#wake?.();
    this.#onClose();
  }
}
