import { useSyncExternalStore } from 'react';

// The chaos panel's "Go offline": this tab's own network switch. While it is on, every request of the
// page's tRPC client fails as a lost network does (`TypeError: Failed to fetch`), requests in flight are
// cut, and the idempotency link and TanStack Query are told the network is gone, so a payment waits,
// paused, instead of burning its attempts. The browser's own offline state counts too.
//
// The switch is kept in sessionStorage: it survives a reload of this tab, as a lost network would, and
// other tabs keep their network.

const STORAGE_KEY = 'brewline:offline';

function readSwitch(): boolean {
  try {
    return sessionStorage.getItem(STORAGE_KEY) === '1';
  } catch {
    return false;
  }
}

let switchedOff = readSwitch();
const listeners = new Set<() => void>();
/** Requests in flight, cut when the switch goes on. */
const inFlight = new Set<AbortController>();

const browserOnline = () => navigator.onLine !== false;
const notify = () => {
  for (const listener of [...listeners]) listener();
};

/** This tab's network: the switch and the browser's state, in the shape the link's `online` option and TanStack Query want. */
export const network = {
  /** Whether the "Go offline" switch is on. */
  get offline(): boolean {
    return switchedOff;
  },

  /** Turns the switch on (`true`: offline) or off. */
  set(offline: boolean): void {
    if (offline === switchedOff) return;
    switchedOff = offline;
    try {
      if (offline) sessionStorage.setItem(STORAGE_KEY, '1');
      else sessionStorage.removeItem(STORAGE_KEY);
    } catch {
      // Storage can be blocked; the switch then lasts until the next reload.
    }
    if (offline) for (const controller of inFlight) controller.abort();
    notify();
  },

  isOnline: (): boolean => !switchedOff && browserOnline(),

  /** Calls `listener` when the switch flips or the browser goes on- or offline. */
  subscribe(listener: () => void): () => void {
    listeners.add(listener);
    window.addEventListener('online', listener);
    window.addEventListener('offline', listener);
    return () => {
      listeners.delete(listener);
      window.removeEventListener('online', listener);
      window.removeEventListener('offline', listener);
    };
  },

  /** `fetch`, failing as a lost network does while the switch is on. Pass it to the tRPC client. */
  async fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
    if (switchedOff) throw new TypeError('Failed to fetch');
    const controller = new AbortController();
    inFlight.add(controller);
    const signal = init?.signal ? AbortSignal.any([init.signal, controller.signal]) : controller.signal;
    try {
      return await fetch(input, { ...init, signal });
    } catch (error) {
      // Cut by the switch: to the caller it is a lost connection, not a cancellation of its own.
      if (controller.signal.aborted && !init?.signal?.aborted) throw new TypeError('Failed to fetch');
      throw error;
    } finally {
      inFlight.delete(controller);
    }
  },
};

/** This tab's network in one word: `online`, `switched-off` (the chaos panel's switch) or `browser-offline`. */
export type NetworkState = 'online' | 'switched-off' | 'browser-offline';

const networkState = (): NetworkState =>
  switchedOff ? 'switched-off' : browserOnline() ? 'online' : 'browser-offline';

/** This tab's network state, re-rendered when it changes. */
export function useNetwork(): NetworkState {
  return useSyncExternalStore(network.subscribe, networkState);
}
