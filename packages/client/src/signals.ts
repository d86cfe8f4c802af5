/**
 * A signal that aborts when any of `signals` does, with that signal's reason. Like `AbortSignal.any`,
 * which some browsers still lack. `dispose` removes the listeners once the attempt is over.
 */
export function anyAbortSignal(signals: ReadonlyArray<AbortSignal | null | undefined>): {
  signal: AbortSignal;
  dispose: () => void;
} {
  const controller = new AbortController();
  const cleanups: Array<() => void> = [];
  const dispose = () => {
    for (const cleanup of cleanups.splice(0)) cleanup();
  };
  for (const signal of signals) {
    if (!signal) continue;
    if (signal.aborted) {
      controller.abort(signal.reason);
      dispose();
      break;
    }
    const onAbort = () => {
      controller.abort(signal.reason);
      dispose();
    };
    signal.addEventListener('abort', onAbort, { once: true });
    cleanups.push(() => signal.removeEventListener('abort', onAbort));
  }
  return { signal: controller.signal, dispose };
}

/** The error an abort leaves behind, as an `Error` (a signal's reason may be any value). */
export function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error) return reason;
  const error = new Error(typeof reason === 'string' ? reason : 'The operation was aborted.');
  error.name = 'AbortError';
  return error;
}

/** The error a timed-out attempt ends with, when it was the last attempt. */
export class AttemptTimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`The attempt did not finish within ${timeoutMs} ms.`);
    this.name = 'AttemptTimeoutError';
  }
}
