import type { AttemptEvent } from '@trpc-idempotency/client';
import { useSyncExternalStore } from 'react';

/** One row of the timeline: an attempt in flight, or one that ended. */
export interface AttemptRow {
  id: number;
  key: string;
  attempt: number;
  /** `started` while the attempt is in flight. */
  outcome: AttemptEvent['outcome'];
  /** For `retrying`: the planned wait before the next attempt. */
  delayMs: number;
  durationMs?: number;
  reason?: string;
  status?: number;
  replayed: boolean;
}

/** What the timeline shows: attempts in flight first, then ended ones, newest first. */
export interface AttemptSnapshot {
  inFlight: readonly AttemptRow[];
  ended: readonly AttemptRow[];
}

const MAX_ROWS = 60;

/**
 * The attempts this tab made, fed by the client's `onAttempt` hook and read by the timeline.
 * Two calls can share one key (a double click), so an ended attempt is not paired with its start:
 * each end is its own row, and a start stays "in flight" until an end of the same key and number arrives.
 */
export class AttemptLog {
  #snapshot: AttemptSnapshot = { inFlight: [], ended: [] };
  #nextId = 1;
  readonly #listeners = new Set<() => void>();

  /** Pass this to `onAttempt`. */
  readonly record = (event: AttemptEvent): void => {
    const { inFlight, ended } = this.#snapshot;
    const row: AttemptRow = {
      id: this.#nextId++,
      key: event.key,
      attempt: event.attempt,
      outcome: event.outcome,
      delayMs: event.delayMs,
      durationMs: event.durationMs,
      reason: event.reason,
      status: event.status,
      replayed: event.replayed === true,
    };
    if (event.outcome === 'started') {
      this.#set({ inFlight: [row, ...inFlight], ended });
      return;
    }
    const done = inFlight.findLastIndex((open) => open.key === event.key && open.attempt === event.attempt);
    this.#set({
      inFlight: done === -1 ? inFlight : inFlight.filter((_, index) => index !== done),
      ended: [row, ...ended].slice(0, MAX_ROWS),
    });
  };

  /** Whether the last success of this key was a replay, for the badge on the answer. */
  lastSuccessReplayed(key: string): boolean {
    return this.#snapshot.ended.find((row) => row.key === key && row.outcome === 'succeeded')?.replayed ?? false;
  }

  /** Forgets the attempts that ended. */
  clear(): void {
    this.#set({ inFlight: this.#snapshot.inFlight, ended: [] });
  }

  readonly subscribe = (listener: () => void): (() => void) => {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  };

  readonly snapshot = (): AttemptSnapshot => this.#snapshot;

  #set(snapshot: AttemptSnapshot): void {
    this.#snapshot = snapshot;
    for (const listener of this.#listeners) listener();
  }
}

/** The attempts of an {@link AttemptLog}, re-rendered on every change. */
export function useAttempts(log: AttemptLog): AttemptSnapshot {
  return useSyncExternalStore(log.subscribe, log.snapshot);
}
