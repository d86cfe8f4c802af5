import { type AttemptEvent, createIdempotentClient, type IdempotencyLinkOptions } from '@trpc-idempotency/client';
import { type IdempotencyStore, MemoryStore } from '@trpc-idempotency/server';
import superjson from 'superjson';
import { expect } from 'vitest';
import { startTestApp, type TestApp, type TestAppOptions, type TestRouter } from './app.js';
import { type FaultProxy, startFaultProxy } from './faultProxy.js';

/** A delay the link asked for, and whether it was cancelled. */
export interface PlannedDelay {
  delayMs: number;
  cancelled: boolean;
}

/**
 * A `schedule` for the link that records each planned delay and runs the retry on the next macrotask,
 * so tests check the planned delays without waiting on the wall clock. With `hold`, nothing runs until
 * `release()` is called. With `waitUpToMs`, each retry runs after the planned delay or that many ms,
 * whichever is shorter: enough real time for a busy key to free up, without waiting out long hints.
 */
export function recordingSchedule(options: { hold?: boolean; waitUpToMs?: number } = {}) {
  const planned: PlannedDelay[] = [];
  const held: Array<() => void> = [];
  const schedule: NonNullable<IdempotencyLinkOptions['schedule']> = (run, delayMs) => {
    const entry = { delayMs, cancelled: false };
    planned.push(entry);
    const fire = () => {
      if (!entry.cancelled) run();
    };
    if (options.hold) held.push(fire);
    else if (options.waitUpToMs !== undefined) setTimeout(fire, Math.min(delayMs, options.waitUpToMs));
    else setImmediate(fire);
    return () => {
      entry.cancelled = true;
    };
  };
  return {
    schedule,
    planned,
    release: () => {
      for (const fire of held.splice(0)) fire();
    },
  };
}

/** The body of one of the SDK's own errors, as `idempotencyErrorFormatter` writes it, for the proxy to answer with. */
export function idempotencyErrorBody(
  status: number,
  trpcCode: string,
  idempotency: { code: string; retryAfterMs?: number },
): string {
  const data = { code: trpcCode, httpStatus: status, idempotency };
  return JSON.stringify({
    error: superjson.serialize({ message: `${idempotency.code} from the proxy`, code: -32603, data }),
  });
}

/** A test app behind a fault proxy, and a way to build idempotent clients that talk to it. */
export interface ClientRig {
  app: TestApp;
  proxy: FaultProxy;
  store: IdempotencyStore;
  /** Every `onAttempt` event of every client built by `client()`. */
  events: AttemptEvent[];
  client(options?: {
    user?: string;
    idempotency?: Omit<IdempotencyLinkOptions, 'transformer'>;
  }): ReturnType<typeof createIdempotentClient<TestRouter>>;
  close(): Promise<void>;
}

/** Starts the test app (MemoryStore unless a store is given) behind a fault proxy. */
export async function startClientRig(options: Partial<TestAppOptions> = {}): Promise<ClientRig> {
  const store = options.store ?? new MemoryStore();
  const app = await startTestApp({ ...options, store });
  const proxy = await startFaultProxy(app.url);
  const events: AttemptEvent[] = [];
  return {
    app,
    proxy,
    store,
    events,
    client: ({ user = 'ann', idempotency = {} } = {}) =>
      createIdempotentClient<TestRouter>({
        url: proxy.url,
        transformer: superjson,
        headers: { 'x-user': user },
        idempotency: {
          ...idempotency,
          onAttempt: (event) => {
            events.push(event);
            idempotency.onAttempt?.(event);
          },
        },
      }),
    close: async () => {
      await proxy.close();
      await app.close();
      if (!options.store) (store as MemoryStore).close();
    },
  };
}

/** The outcomes reported for one key, in order, for example `['started', 'retrying', 'started', 'succeeded']`. */
export function outcomesOf(events: AttemptEvent[], key: string): string[] {
  return events.filter((event) => event.key === key).map((event) => event.outcome);
}

/** Waits until the server has claimed `key`, from its own event log. */
export async function waitForClaim(rig: ClientRig, key: string): Promise<void> {
  await expect
    .poll(() => rig.app.effects.events.some((event) => event.key === key && event.type === 'claimed'), {
      timeout: 5000,
      interval: 5,
    })
    .toBe(true);
}
