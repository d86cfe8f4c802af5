/** Something to run at `dueAt` (a `performance.now()` time) unless it is taken out of the queue first. */
export interface QueuedTimer {
  readonly dueAt: number;
  fire(): void;
}

/**
 * Runs many timers with one `setTimeout`: every call of a store with one timeout, every lease of one
 * length. A `setTimeout` per request costs a timer-list insert and removal on the hot path; here a timer
 * that is no longer needed leaves a Set at once, and the one real timer is armed for the earliest timer
 * queued. Its users queue timers that end within one delay of each other and are mostly gone before
 * they fall due, so the real timer fires about once per delay and each firing looks at the few left.
 */
export class TimerQueue {
  readonly #queued = new Set<QueuedTimer>();
  #armedFor = Number.POSITIVE_INFINITY;
  #timer: ReturnType<typeof setTimeout> | undefined;

  add(timer: QueuedTimer): void {
    this.#queued.add(timer);
    if (this.#timer === undefined || timer.dueAt < this.#armedFor) this.#arm(timer.dueAt);
  }

  /** How many timers are queued. */
  get size(): number {
    return this.#queued.size;
  }

  /** Takes a timer out before it fires; `true` if it was still queued. */
  delete(timer: QueuedTimer): boolean {
    return this.#queued.delete(timer);
  }

  #arm(dueAt: number): void {
    clearTimeout(this.#timer);
    this.#armedFor = dueAt;
    this.#timer = setTimeout(() => this.#fireDue(), Math.max(1, dueAt - performance.now()));
    // A queued timer must never keep a process alive that is shutting down.
    this.#timer.unref?.();
  }

  #fireDue(): void {
    this.#timer = undefined;
    const now = performance.now();
    let next = Number.POSITIVE_INFINITY;
    for (const timer of this.#queued) {
      if (timer.dueAt > now) {
        next = Math.min(next, timer.dueAt);
        continue;
      }
      this.#queued.delete(timer);
      timer.fire();
    }
    // A timer that fire() added has armed the real timer already if it is the earliest.
    if (next !== Number.POSITIVE_INFINITY && (this.#timer === undefined || next < this.#armedFor)) this.#arm(next);
  }
}
