import { type IdempotencyStore, MemoryStore } from '@trpc-idempotency/server';
import { type Ledger, MemoryLedger } from './ledger.js';
import { createRedisBackends } from './redisBackends.js';

/** Which kind of storage holds the payments and the idempotency records. */
export type BackendKind = 'memory' | 'redis';

/** Whether each part can be reached right now, as far as the server knows without asking. */
export interface BackendHealth {
  store: boolean;
  ledger: boolean;
}

/** Where the example keeps its payments and idempotency records, and how the chaos panel can cut the store off. */
export interface Backends {
  kind: BackendKind;
  /** Where the data lives, in words: "this server's memory", "Redis at 127.0.0.1:6379". */
  where: string;
  store: IdempotencyStore;
  ledger: Ledger;
  health(): BackendHealth;
  /** Cuts the idempotency store's connection, or restores it. Null where there is no connection to cut. */
  setStoreReachable: ((reachable: boolean) => Promise<void>) | null;
  close(): Promise<void>;
}

/** Where to keep the data. With nothing set, everything stays in the server's memory. */
export interface BackendOptions {
  /** Payments and idempotency records go to this Redis. */
  redisUrl?: string;
}

/**
 * Picks the backend: the one place that knows which storages exist. Memory by default; Redis for both
 * the ledger and the idempotency store when a URL is given.
 *
 * @example
 * const backends = await createBackends({ redisUrl: process.env.REDIS_URL });
 */
export async function createBackends(options: BackendOptions = {}): Promise<Backends> {
  if (options.redisUrl) return createRedisBackends(options.redisUrl);
  return {
    kind: 'memory',
    where: "this server's memory",
    store: new MemoryStore(),
    ledger: new MemoryLedger(),
    health: () => ({ store: true, ledger: true }),
    setStoreReachable: null,
    close: async () => {},
  };
}
