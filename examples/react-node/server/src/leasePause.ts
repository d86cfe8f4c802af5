import { AsyncLocalStorage } from 'node:async_hooks';
import type { ClaimRequest, IdempotencyStore, TransactionalStore } from '@trpc-idempotency/server';
import type { Payments } from './backends.js';
import type { NewPayment, TransactionalLedger } from './ledger.js';

/** The longest a paused write waits for a retry to take the payment over; then it writes anyway. */
export const MAX_PAUSE_MS = 30_000;
/** How long after the retry's payment the paused write comes back, so the page shows the two in order. */
const LATE_BY_MS = 1000;
const MAX_TRACKED_KEYS = 1000;

/**
 * The chaos switch "pause the handler past its lease": a handler that stops, as a process does in a long
 * GC pause or a frozen VM, after its last check of `ctx.idempotency.signal` and before its ledger write.
 *
 * While it is stopped its lease renewals stop too (they are held back, as a stopped process would not send
 * them), so its lease runs out in the store and the client's retry takes the payment over with a higher
 * fence. The stopped write resumes once that retry's payment is in the ledger (or after
 * {@link MAX_PAUSE_MS}), and the ledger refuses it: its fence is lower than the newest one. On PostgreSQL
 * the write goes into the stopped holder's transaction, whose commit is then refused: it is rolled back. On
 * SQLite the stopped transaction holds the file's one write lock, so the store rolls it back when its lease
 * ends (the demo's `transactionTimeoutMs`) and the late write finds it closed.
 *
 * Only the first write of each intent is paused, so the retry is not. The store and ledger decorators
 * below are how the demo reaches in; the handler's own code is what an app would write.
 */
export class LeasePause {
  /** Each keyed `payments.create` request's lease token, found by the store decorator's claim. */
  readonly #requests = new AsyncLocalStorage<{ token?: string }>();
  /** Lease tokens whose renewals are held back, each until its pause ends. */
  readonly #frozen = new Map<string, Promise<void>>();
  /** Keys whose first write was paused already. */
  readonly #pausedKeys = new Set<string>();
  /** Paused writes waiting for a newer write of their key. */
  readonly #waiting = new Map<string, () => void>();
  readonly #enabled: () => boolean;

  constructor(enabled: () => boolean) {
    this.#enabled = enabled;
  }

  /** Runs one HTTP request with a slot for its lease token; lease renewals run inside it too. */
  runRequest<T>(run: () => T): T {
    return this.#requests.run({}, run);
  }

  /** The store and the ledger, each wrapped as below, of the same kind as given. */
  wrapPayments(payments: Payments): Payments {
    if (payments.kind === 'postgres') return { kind: payments.kind, ...this.#wrapTransactional(payments) };
    if (payments.kind === 'sqlite') return { kind: payments.kind, ...this.#wrapTransactional(payments) };
    const { store, ledger } = payments;
    return {
      kind: payments.kind,
      store: this.#wrapStore(store),
      ledger: {
        kind: ledger.kind,
        list: () => ledger.list(),
        refusals: () => ledger.refusals(),
        record: (payment) => this.#write(payment, () => ledger.record(payment)),
      },
    };
  }

  /** A transactional store and its ledger (PostgreSQL, SQLite): the write is paused inside the transaction. */
  #wrapTransactional<TClient>({
    store,
    ledger,
  }: {
    store: TransactionalStore<TClient>;
    ledger: TransactionalLedger<TClient>;
  }) {
    return {
      store: {
        ...this.#wrapStore(store),
        claimInTransaction: async (request: ClaimRequest) =>
          this.#noteClaim(request, await store.claimInTransaction(request)),
      },
      ledger: {
        list: () => ledger.list(),
        refusals: () => ledger.refusals(),
        settle: (tx: TClient, committed: boolean | undefined) => ledger.settle(tx, committed),
        recordIn: (tx: TClient, payment: NewPayment) => this.#write(payment, () => ledger.recordIn(tx, payment)),
      },
    };
  }

  /** The idempotency store, with renewals of a paused holder held back until its pause ends. */
  #wrapStore(store: IdempotencyStore): IdempotencyStore {
    return {
      ...(store.kind === undefined ? {} : { kind: store.kind }),
      claim: async (request) => this.#noteClaim(request, await store.claim(request)),
      renewLease: async (request) => {
        await this.#frozen.get(request.token);
        return store.renewLease(request);
      },
      complete: (request) => store.complete(request),
      release: (request) => store.release(request),
    };
  }

  /** Keeps the lease token of a request's winning claim, so that its renewals can be held back. */
  #noteClaim<T extends { status: string }>(request: ClaimRequest, result: T): T {
    const slot = this.#requests.getStore();
    if (result.status === 'claimed' && slot) slot.token = request.token;
    return result;
  }

  /** A ledger write, with the first write of each intent paused while the switch is on. */
  async #write<T>(payment: NewPayment, write: () => Promise<T>): Promise<T> {
    if (this.#enabled() && !this.#pausedKeys.has(payment.key)) await this.#pause(payment.key);
    const stored = await write();
    this.#waiting.get(payment.key)?.();
    return stored;
  }

  async #pause(key: string): Promise<void> {
    this.#pausedKeys.add(key);
    if (this.#pausedKeys.size > MAX_TRACKED_KEYS) this.#pausedKeys.delete(this.#pausedKeys.values().next().value!);
    const token = this.#requests.getStore()?.token;
    let resume!: () => void;
    const paused = new Promise<void>((resolve) => {
      resume = resolve;
    });
    if (token) this.#frozen.set(token, paused);
    try {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, MAX_PAUSE_MS);
        this.#waiting.set(key, () => {
          clearTimeout(timer);
          setTimeout(resolve, LATE_BY_MS);
        });
      });
    } finally {
      this.#waiting.delete(key);
      if (token) this.#frozen.delete(token);
      resume();
    }
  }
}
