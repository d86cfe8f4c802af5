import type { AttemptEvent } from '@trpc-idempotency/client';
import { useSyncExternalStore } from 'react';

/** One attempt of a call: in flight (`started`) until its end arrives, then what it came to. */
export interface AttemptRow {
  attempt: number;
  outcome: AttemptEvent['outcome'];
  /** For `retrying`: the planned wait before the next attempt. */
  delayMs: number;
  durationMs?: number;
  reason?: string;
  status?: number;
  replayed: boolean;
}

/**
 * One payment call: the attempts the client made for it, and how many clicks it served. Two clicks of one
 * intent with the same input while the first is in flight share one call: the client sends one series of
 * requests and both clicks get its result.
 */
export interface PaymentCall {
  id: number;
  key: string;
  /** What the click asked for, in words: "€42.00". */
  label: string;
  startedAt: Date;
  clicks: number;
  /** A payment that a reload interrupted, resumed by this page rather than started by a click in it. */
  resumed: boolean;
  /** Oldest first. */
  attempts: readonly AttemptRow[];
  state: 'running' | 'succeeded' | 'failed' | 'aborted';
}

const MAX_CALLS = 20;

/**
 * The payment calls this tab made, fed by the client's `onAttempt` hook and the checkout's clicks, read by
 * the timeline and by the checkout's answer. Attempt events carry the key and the attempt number, not the
 * call: a call begins with attempt 1, and each later event belongs to the call of its key that is waiting
 * for exactly that attempt.
 */
export class CallLog {
  #calls: readonly PaymentCall[] = [];
  #nextId = 1;
  /** Clicks that came before their call's first attempt, by key. */
  readonly #pending = new Map<string, number>();
  /** What the latest click of each key asked for. */
  readonly #labels = new Map<string, string>();
  /** Keys of payments this page resumes after a reload, before their first attempt. */
  readonly #resumed = new Set<string>();
  readonly #listeners = new Set<() => void>();

  /** The checkout calls this on each click, before it sends the payment. */
  noteClick(key: string, label: string): void {
    this.#labels.set(key, label);
    const running = this.#calls.find((call) => call.key === key && call.state === 'running');
    if (running) this.#update(running, { clicks: running.clicks + 1 });
    else this.#pending.set(key, (this.#pending.get(key) ?? 0) + 1);
  }

  /** The page calls this for each payment it resumes after a reload, before resuming it. */
  noteResumed(key: string, label: string): void {
    this.#labels.set(key, label);
    this.#resumed.add(key);
  }

  /** Pass this to `onAttempt`. */
  readonly record = (event: AttemptEvent): void => {
    const row: AttemptRow = {
      attempt: event.attempt,
      outcome: event.outcome,
      delayMs: event.delayMs,
      durationMs: event.durationMs,
      reason: event.reason,
      status: event.status,
      replayed: event.replayed === true,
    };
    if (event.outcome === 'started' && event.attempt === 1) {
      const resumed = this.#resumed.delete(event.key);
      const clicks = this.#pending.get(event.key) ?? (resumed ? 0 : 1);
      const label = this.#labels.get(event.key) ?? '';
      this.#pending.delete(event.key);
      this.#labels.delete(event.key);
      const call: PaymentCall = {
        id: this.#nextId++,
        key: event.key,
        label,
        startedAt: new Date(),
        clicks,
        resumed,
        attempts: [row],
        state: 'running',
      };
      this.#set([call, ...this.#calls].slice(0, MAX_CALLS));
      return;
    }
    const call = this.#callFor(event);
    if (!call) return;
    if (event.outcome === 'started') {
      this.#update(call, { attempts: [...call.attempts, row] });
      return;
    }
    const attempts = call.attempts.map((open) =>
      open.attempt === event.attempt && open.outcome === 'started' ? row : open,
    );
    const state = event.outcome === 'retrying' ? 'running' : event.outcome;
    this.#update(call, { attempts, state });
  };

  /** The newest call of a key, for the checkout's answer. */
  latestCall(key: string): PaymentCall | undefined {
    return this.#calls.find((call) => call.key === key);
  }

  /** Forgets the calls that ended. */
  clear(): void {
    this.#set(this.#calls.filter((call) => call.state === 'running'));
  }

  readonly subscribe = (listener: () => void): (() => void) => {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  };

  /** Newest first. */
  readonly snapshot = (): readonly PaymentCall[] => this.#calls;

  /** The running call of the event's key that waits for this attempt: to start it, or to end it. */
  #callFor(event: AttemptEvent): PaymentCall | undefined {
    const running = this.#calls.filter((call) => call.key === event.key && call.state === 'running');
    const waiting = running.find((call) => {
      const last = call.attempts.at(-1);
      return event.outcome === 'started'
        ? last?.attempt === event.attempt - 1 && last.outcome !== 'started'
        : call.attempts.some((row) => row.attempt === event.attempt && row.outcome === 'started');
    });
    return waiting ?? running[0];
  }

  #update(call: PaymentCall, change: Partial<PaymentCall>): void {
    this.#set(this.#calls.map((each) => (each === call ? { ...call, ...change } : each)));
  }

  #set(calls: readonly PaymentCall[]): void {
    this.#calls = calls;
    for (const listener of this.#listeners) listener();
  }
}

/** The calls of a {@link CallLog}, newest first, re-rendered on every change. */
export function usePaymentCalls(log: CallLog): readonly PaymentCall[] {
  return useSyncExternalStore(log.subscribe, log.snapshot);
}
