import {
  formatIntentRecord,
  type IntentRecord,
  type PendingCall,
  parseIntentRecord,
  parsePendingCalls,
} from './intentRecord.js';

/** The part of the Web Storage API an intent needs; `sessionStorage` and `localStorage` both fit. */
export interface KeyStorage {
  getItem(name: string): string | null;
  setItem(name: string, value: string): void;
  removeItem(name: string): void;
}

/** Turns an input into something JSON can hold, and back: superjson fits. Default: the input as it is. */
export interface InputSerializer {
  serialize(value: any): unknown;
  deserialize(value: any): unknown;
}

/**
 * Where one intent keeps its record (under `name`) and its pending calls (under `name:pending`). Storage
 * can throw (quota, private mode, blocked cookies): a read then finds nothing and a write is dropped, and
 * without storage the pending calls live in memory.
 */
export function intentStorage(storage: KeyStorage | undefined, name: string, serializer?: InputSerializer) {
  const pendingName = `${name}:pending`;
  let pendingInMemory: PendingCall[] = [];
  const readPending = (): PendingCall[] =>
    storage
      ? parsePendingCalls(
          safely(() => storage.getItem(pendingName)),
          Date.now(),
        )
      : pendingInMemory;
  const writePending = (calls: PendingCall[]) => {
    if (!storage) pendingInMemory = calls;
    else
      safely(() =>
        calls.length ? storage.setItem(pendingName, JSON.stringify(calls)) : storage.removeItem(pendingName),
      );
  };
  return {
    readRecord: () => parseIntentRecord(safely(() => storage?.getItem(name))),
    writeRecord: (record: IntentRecord) => safely(() => storage?.setItem(name, formatIntentRecord(record))),
    /** The pending calls, their inputs as the serializer gives them back. */
    pending: (): PendingCall[] =>
      readPending().map((call) => ({
        ...call,
        input: serializer && call.input !== null ? serializer.deserialize(call.input) : call.input,
      })),
    track(key: string, input: unknown) {
      const calls = readPending().filter((call) => call.key !== key);
      const written = serializer ? serializer.serialize(input) : input;
      writePending([...calls, { key, input: written ?? null, startedAt: Date.now() }]);
    },
    untrack(key: string) {
      const calls = readPending();
      if (calls.some((call) => call.key === key)) writePending(calls.filter((call) => call.key !== key));
    },
  };
}

/** `'session'` or `'local'` as the browser's storage, or undefined where there is none. */
export function resolveStorage(storage: 'session' | 'local' | KeyStorage | undefined): KeyStorage | undefined {
  if (storage !== 'session' && storage !== 'local') return storage;
  const name = storage === 'session' ? 'sessionStorage' : 'localStorage';
  return safely(() => (globalThis as Record<string, unknown>)[name] as KeyStorage | undefined);
}

function safely<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch {
    return undefined;
  }
}
