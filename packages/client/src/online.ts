/** Tells whether the network is there, and when that changes. The default reads the browser's. */
export interface OnlineSource {
  isOnline(): boolean;
  /** Calls `onChange` when the network comes or goes; returns the unsubscribe function. */
  subscribe(onChange: () => void): () => void;
}

interface EventTargetLike {
  addEventListener(type: string, listener: () => void): void;
  removeEventListener(type: string, listener: () => void): void;
}

/**
 * The browser's view: `navigator.onLine` and the window's `online` and `offline` events. Where there is
 * no such thing (Node, workers without it), it is always online.
 */
export const browserOnlineSource: OnlineSource = {
  isOnline() {
    const navigator = (globalThis as { navigator?: { onLine?: unknown } }).navigator;
    return typeof navigator?.onLine === 'boolean' ? navigator.onLine : true;
  },
  subscribe(onChange) {
    const target = globalThis as Partial<EventTargetLike>;
    if (typeof target.addEventListener !== 'function') return () => {};
    target.addEventListener('online', onChange);
    target.addEventListener('offline', onChange);
    return () => {
      target.removeEventListener?.('online', onChange);
      target.removeEventListener?.('offline', onChange);
    };
  },
};

/** Resolves when `source` is online (at once if it is); `signal` stops the wait with its reason. */
export function whenOnline(source: OnlineSource, signal?: AbortSignal): Promise<void> {
  if (source.isOnline()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const finish = (error?: unknown) => {
      unsubscribe();
      signal?.removeEventListener('abort', onAbort);
      if (error === undefined) resolve();
      else reject(error);
    };
    const onAbort = () => finish(signal?.reason ?? new Error('aborted'));
    const unsubscribe = source.subscribe(() => {
      if (source.isOnline()) finish();
    });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
