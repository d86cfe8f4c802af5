import { tabGlobal } from './tabGlobal.js';

interface LockManagerLike {
  query?(): Promise<{ held?: Array<{ name?: string }> }>;
  request<T>(name: string, callback: (lock: unknown) => Promise<T>): Promise<T>;
  request<T>(name: string, options: { ifAvailable: true }, callback: (lock: unknown) => Promise<T>): Promise<T>;
}

// The in-tab fallback: one promise chain per lock name, shared by the package's entry points (see tabChannel.ts).
const tails = tabGlobal('tabLocks', () => new Map<string, Promise<unknown>>());

const BUSY = Symbol('busy');

/**
 * Runs `task` while holding the lock `name`; `task` learns whether it had to wait for another holder.
 * With `crossTab` and the Web Locks API (secure contexts: https, localhost), the lock is held across every
 * tab of the origin and is freed when its tab goes away; otherwise it is held within this tab only.
 */
export async function withTabLock<T>(
  name: string,
  crossTab: boolean,
  task: (waited: boolean) => Promise<T>,
): Promise<T> {
  const locks = crossTab ? webLocks() : undefined;
  if (locks) {
    const lockName = `trpc-idempotency:${name}`;
    const first = await locks.request(
      lockName,
      { ifAvailable: true },
      async (lock): Promise<T | typeof BUSY> => (lock ? task(false) : BUSY),
    );
    return first === BUSY ? locks.request(lockName, () => task(true)) : first;
  }
  const previous = tails.get(name);
  const run = previous ? previous.then(() => task(true)) : task(false);
  const tail = run.then(
    () => undefined,
    () => undefined,
  );
  tails.set(name, tail);
  void tail.then(() => {
    if (tails.get(name) === tail) tails.delete(name);
  });
  return run;
}

/** Whether a tab (in practice another one: this tab asks before it runs anything) holds the lock `name`. */
export async function isTabLockHeld(name: string): Promise<boolean> {
  const locks = webLocks();
  if (typeof locks?.query !== 'function') return false;
  try {
    const { held = [] } = await locks.query();
    return held.some((lock) => lock.name === `trpc-idempotency:${name}`);
  } catch {
    return false;
  }
}

/** Whether locks reach the other tabs here. */
export function hasCrossTabLocks(): boolean {
  return webLocks() !== undefined;
}

function webLocks(): LockManagerLike | undefined {
  const locks = (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator?.locks;
  return typeof locks?.request === 'function' ? locks : undefined;
}
