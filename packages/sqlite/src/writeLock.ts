import { resolve } from 'node:path';
import { StoreUnavailableError } from '@trpc-idempotency/server';

/**
 * The one write lock of a database file, as this process sees it. SQLite lets one connection write at a
 * time, and better-sqlite3 waits for a busy file by blocking the thread; a handler's transaction holds
 * the file's write lock across awaits, so a second connection of the same process that tried to write
 * then would block the very thread that must finish the transaction. Every write of a SqliteStore
 * therefore waits here, without blocking: a store call holds the lock for one synchronous step, a
 * handler's transaction from its claim to its commit or rollback. Waiters are served first come, first served.
 */
export class WriteLock {
  #held = false;
  readonly #waiters: Array<() => void> = [];

  /** Whether someone holds the lock now. */
  get busy(): boolean {
    return this.#held;
  }

  /** Takes the lock if it is free. */
  tryAcquire(): boolean {
    if (this.#held) return false;
    this.#held = true;
    return true;
  }

  /**
   * Resolves once the caller holds the lock. Rejects with a {@link StoreUnavailableError} after `timeoutMs`
   * without it; a waiter that gave up is never granted the lock later.
   */
  acquire(timeoutMs: number): Promise<void> {
    if (this.tryAcquire()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const grant = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        const index = this.#waiters.indexOf(grant);
        if (index >= 0) this.#waiters.splice(index, 1);
        reject(
          new StoreUnavailableError(
            `SqliteStore: the database's write lock was not free within ${timeoutMs} ms (a handler's transaction holds it).`,
          ),
        );
      }, timeoutMs);
      this.#waiters.push(grant);
    });
  }

  /** Hands the lock to the next waiter, or frees it. */
  release(): void {
    const next = this.#waiters.shift();
    if (next) next();
    else this.#held = false;
  }
}

const locks = new Map<string, WriteLock>();

/**
 * The write lock of a file for this process: every SqliteStore on the same path shares one, so that two
 * stores on one file never make each other wait inside SQLite. (Two paths to one file through a link are
 * not seen as one.)
 */
export function writeLockOf(filename: string): WriteLock {
  const path = resolve(filename);
  let lock = locks.get(path);
  if (!lock) {
    lock = new WriteLock();
    locks.set(path, lock);
  }
  return lock;
}
