import { tabGlobal } from './tabGlobal.js';

/** A message between the tabs (and the intents within one tab) that share an intent. */
export type TabMessage =
  /** The intent's key changed: rotated after a success, or by the user. */
  | { type: 'key'; record: { key: string; n: number } }
  /** A call of the intent ended: its key, the input it sent (canonical), and its result when it succeeded. */
  | { type: 'outcome'; key: string; inputId?: string; ok: true; data?: unknown; hasData: boolean };

/** One channel name's listeners in this tab, and its link to the other tabs. */
export interface TabChannel {
  /** Sends to every other listener of this name: in this tab at once, in other tabs through BroadcastChannel. */
  post(message: TabMessage): void;
  subscribe(listener: (message: TabMessage) => void): () => void;
  /** Outcomes of recent calls, by key: a tab that waited for another's call reads its result here. */
  readonly outcomes: Map<string, Extract<TabMessage, { type: 'outcome' }>>;
  /** The latest key record any message carried. */
  readonly latest: { record?: { key: string; n: number } };
}

/** How many outcomes a channel remembers; older ones are dropped (their keys have long rotated). */
const KEPT_OUTCOMES = 32;

// One per name and tab, never closed: a handful of intents per page, each a few bytes.
const channels = tabGlobal('tabChannels', () => new Map<string, TabChannel>());

/**
 * The channel of one intent in this tab. With `crossTab`, it also reaches the other tabs of the origin
 * through a `BroadcastChannel` of the same name, where the browser has one.
 */
export function tabChannel(name: string, crossTab: boolean): TabChannel {
  const id = `${crossTab ? 'tabs' : 'tab'}:${name}`;
  let channel = channels.get(id);
  if (!channel) {
    channel = createTabChannel(name, crossTab);
    channels.set(id, channel);
  }
  return channel;
}

function createTabChannel(name: string, crossTab: boolean): TabChannel {
  const listeners = new Set<(message: TabMessage) => void>();
  const outcomes = new Map<string, Extract<TabMessage, { type: 'outcome' }>>();
  const latest: TabChannel['latest'] = {};
  const deliver = (message: TabMessage) => {
    if (message.type === 'key') {
      const seen = latest.record;
      const { record } = message;
      if (!seen || record.n > seen.n || (record.n === seen.n && record.key > seen.key)) latest.record = record;
    }
    if (message.type === 'outcome') {
      outcomes.delete(message.key);
      outcomes.set(message.key, message);
      while (outcomes.size > KEPT_OUTCOMES) outcomes.delete(outcomes.keys().next().value!);
    }
    for (const listener of [...listeners]) {
      try {
        listener(message);
      } catch {
        // One listener's mistake must not keep the message from the others.
      }
    }
  };
  const broadcast = crossTab ? openBroadcastChannel(name, deliver) : undefined;
  return {
    outcomes,
    latest,
    post(message) {
      deliver(message);
      if (!broadcast) return;
      try {
        broadcast.postMessage(message);
      } catch {
        // Data the structured clone cannot copy (a function, a class with private state) stays in this tab;
        // the other tabs learn of the outcome without it and ask the server, which replays it.
        if (message.type === 'outcome') broadcast.postMessage({ ...message, data: undefined, hasData: false });
      }
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

function openBroadcastChannel(name: string, deliver: (message: TabMessage) => void): BroadcastChannel | undefined {
  if (typeof BroadcastChannel !== 'function') return undefined;
  try {
    const channel = new BroadcastChannel(`trpc-idempotency:${name}`);
    channel.onmessage = (event: MessageEvent) => {
      if (isTabMessage(event.data)) deliver(event.data);
    };
    // Node has BroadcastChannel too; there an open channel must not keep the process alive.
    (channel as { unref?: () => void }).unref?.();
    return channel;
  } catch {
    return undefined;
  }
}

function isTabMessage(value: unknown): value is TabMessage {
  if (typeof value !== 'object' || value === null) return false;
  const { type, key, record } = value as { type?: unknown; key?: unknown; record?: { key?: unknown } };
  if (type === 'outcome') return typeof key === 'string';
  return type === 'key' && typeof record?.key === 'string';
}
