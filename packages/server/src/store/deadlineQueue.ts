/** A call that is waiting for its answer or its deadline, whichever comes first. */
interface PendingCall {
  readonly dueAt: number;
  readonly fail: () => void;
}

/**
 * Times out store calls that all share one timeout length with a single timer, instead of a
 * `setTimeout` plus `Promise.race` per call (a timer-list insert and removal and two extra promises).
 * The calls in flight sit in a Set, which keeps them in call order, so also in deadline order; an answered
 * call leaves the Set at once, so nothing outlives its call.
 */
export class DeadlineQueue {
  readonly #timeoutMs: number;
  readonly #inFlight = new Set<PendingCall>();
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(timeoutMs: number) {
    this.#timeoutMs = timeoutMs;
  }

  /**
   * Settles like `call`, with its error passed through `wrapError`, unless `timeoutMs` passes first:
   * then `onTimeout` runs and the returned promise rejects with `timeoutError()`.
   */
  within<T>(
    call: Promise<T>,
    timeoutError: () => unknown,
    wrapError: (error: unknown) => unknown,
    onTimeout?: () => void,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const inFlight = this.#inFlight;
      const pending: PendingCall = {
        dueAt: performance.now() + this.#timeoutMs,
        fail: () => {
          onTimeout?.();
          reject(timeoutError());
        },
      };
      inFlight.add(pending);
      if (this.#timer === undefined) this.#arm(this.#timeoutMs);
      call.then(
        (value) => {
          if (inFlight.delete(pending)) resolve(value);
        },
        (error: unknown) => {
          if (inFlight.delete(pending)) reject(wrapError(error));
        },
      );
    });
  }

  #arm(delayMs: number): void {
    this.#timer = setTimeout(() => this.#expire(), Math.max(1, delayMs));
    // A pending deadline must never keep a process alive that is shutting down.
    this.#timer.unref?.();
  }

  #expire(): void {
    this.#timer = undefined;
    const now = performance.now();
    for (const pending of this.#inFlight) {
      if (pending.dueAt > now) {
        this.#arm(pending.dueAt - now);
        return;
      }
      this.#inFlight.delete(pending);
      pending.fail();
    }
  }
}
