import { type IntentRecord, laterRecord } from './intentRecord.js';
import type { TabMessage } from './tabs/tabChannel.js';

/** What one intent knows, changed only by {@link reduceIntent}. */
export interface IntentState {
  /** The latest record: this intent's own, the stored one or another tab's, whichever is later. */
  record?: IntentRecord;
  /** The server key on its way (with `issue`). */
  issuing?: Promise<unknown>;
  /** The key the listeners were last told of. */
  heard?: string;
}

export type IntentAction =
  /** Storage and the tabs' latest message were read. */
  | { type: 'read'; stored?: IntentRecord; posted?: IntentRecord }
  /** A new key was made here, generated or issued. */
  | { type: 'made'; record: IntentRecord }
  | { type: 'issuing' | 'issued'; request: Promise<unknown> }
  /** The listeners are to be told of the current key, unless they know it. */
  | { type: 'heard' };

/**
 * The intent's reducer, TanStack Query's mutation reducer style: no storage, no tabs, no timers. It answers
 * the new state and what the driver (intent.ts) is to do: write a record to storage, post it to the other
 * tabs, tell the listeners.
 */
export function reduceIntent(
  state: IntentState,
  action: IntentAction,
): { state: IntentState; save?: IntentRecord; post?: IntentRecord; tell?: true } {
  switch (action.type) {
    case 'read': {
      const { stored } = action;
      const record = laterRecord(laterRecord(state.record, stored), action.posted);
      // Two tabs that made a first key at once: the one that wins the tie is written back, so all agree.
      const stale = record !== undefined && record !== stored && (!stored || record.key !== stored.key);
      return { state: { ...state, record }, ...(stale ? { save: record } : {}) };
    }
    case 'made': {
      const record = laterRecord(state.record, action.record)!;
      return { state: { ...state, record }, save: record, post: record };
    }
    case 'issuing':
      return { state: { ...state, issuing: action.request } };
    case 'issued':
      // Only the latest request is waited for: an older one that ends meanwhile changes nothing.
      return { state: state.issuing === action.request ? { ...state, issuing: undefined } : state };
    case 'heard': {
      const key = state.record?.key ?? '';
      return key === state.heard ? { state } : { state: { ...state, heard: key }, tell: true };
    }
  }
}

/** Whether `message` is a success of `key` with data that a call with input `inputId` may take as its own. */
export function isSharedSuccess(
  message: TabMessage | undefined,
  key: string,
  inputId: string | undefined,
): message is Extract<TabMessage, { type: 'outcome' }> {
  if (message?.type !== 'outcome' || message.key !== key || !message.hasData) return false;
  return message.inputId === undefined || inputId === undefined || message.inputId === inputId;
}
