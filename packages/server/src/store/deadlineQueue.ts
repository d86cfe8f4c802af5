import { TimerQueue } from '../timerQueue.js';

/**
 * Times out store calls that all share one timeout length with a single timer ({@link TimerQueue}),
 * instead of a `setTimeout` plus `Promise.race` per call.
 */
export class DeadlineQueue {
  readonly #timeoutMs: number;
  readonly #timers = new TimerQueue();

  constructor(timeoutMs: number) {
    this.#timeoutMs = timeoutMs;
  }

  /** How many calls are waiting for their answer. */
  get inFlight(): number {
    return this.#timers.size;
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
      const timers = this.#timers;
      const deadline = {
        dueAt: performance.now() + this.#timeoutMs,
        fire: () => {
          onTimeout?.();
          reject(timeoutError());
        },
      };
      timers.add(deadline);
      call.then(
        (value) => {
          if (timers.delete(deadline)) resolve(value);
        },
        (error: unknown) => {
          if (timers.delete(deadline)) reject(wrapError(error));
        },
      );
    });
  }
}
