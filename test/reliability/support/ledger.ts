import { Redis } from 'ioredis';

/*
 * The ledger stands for the app's own database: the place where the side effect (a payment) lands.
 * It lives on its own redis-server, apart from the idempotency store, so that it counts what the
 * handlers really did, and survives the idempotency Redis being restarted or failing over.
 *
 * Keys, under one run's namespace `ns`:
 *   ns:runs      hash  intent -> how many times a handler started for it
 *   ns:fence     hash  intent -> the newest fence any handler announced for it
 *   ns:entries   hash  intent -> how many writes the ledger accepted for it
 *   ns:rejected  hash  intent -> how many writes it refused because a newer fence exists
 *   ns:log       list  every accepted write, as JSON
 */

/**
 * A handler starts: count the run and announce its fence, keeping the largest one seen.
 * KEYS[1] runs; KEYS[2] fence; ARGV[1] intent; ARGV[2] fence.
 */
const BEGIN_SCRIPT = `
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
local newest = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
if tonumber(ARGV[2]) > newest then redis.call('HSET', KEYS[2], ARGV[1], ARGV[2]) end
return 1
`;

/**
 * The side effect: accepted only from the holder of the newest fence, as a database row guarded by
 * `WHERE fence >= :newest` would be. KEYS[1] fence; KEYS[2] entries; KEYS[3] rejected; KEYS[4] log;
 * ARGV[1] intent; ARGV[2] fence; ARGV[3] entry JSON. Replies 1 accepted, 0 refused as stale.
 */
const WRITE_SCRIPT = `
local newest = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if tonumber(ARGV[2]) < newest then
  redis.call('HINCRBY', KEYS[3], ARGV[1], 1)
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
redis.call('RPUSH', KEYS[4], ARGV[3])
return 1
`;

interface LedgerCommands {
  ledgerBegin(runs: string, fence: string, intent: string, value: number): Promise<number>;
  ledgerWrite(
    fence: string,
    entries: string,
    rejected: string,
    log: string,
    intent: string,
    value: number,
    entry: string,
  ): Promise<number>;
}

/** One accepted side effect, as the ledger keeps it. */
export interface LedgerEntry {
  intent: string;
  fence: number;
  orderId: string;
  pid: number;
}

/** What the ledger saw during one run, read back for the assertions. */
export interface LedgerSnapshot {
  runs: Map<string, number>;
  entries: Map<string, number>;
  rejected: Map<string, number>;
  log: LedgerEntry[];
}

/** A connection to the shared side-effect ledger, for the server processes and for the tests. */
export class Ledger {
  readonly #redis: Redis & LedgerCommands;
  readonly #ns: string;

  constructor(url: string, namespace: string) {
    const redis = new Redis(url, { maxRetriesPerRequest: 3 }) as Redis & LedgerCommands;
    redis.defineCommand('ledgerBegin', { numberOfKeys: 2, lua: BEGIN_SCRIPT });
    redis.defineCommand('ledgerWrite', { numberOfKeys: 4, lua: WRITE_SCRIPT });
    this.#redis = redis;
    this.#ns = namespace;
  }

  /** Counts a handler run for `intent` and announces its fence. */
  async begin(intent: string, fence: number): Promise<void> {
    await this.#redis.ledgerBegin(this.#key('runs'), this.#key('fence'), intent, fence);
  }

  /** Writes the side effect if `fence` is still the newest; answers whether the ledger accepted it. */
  async write(entry: LedgerEntry): Promise<boolean> {
    const keys = [this.#key('fence'), this.#key('entries'), this.#key('rejected'), this.#key('log')] as const;
    return (await this.#redis.ledgerWrite(...keys, entry.intent, entry.fence, JSON.stringify(entry))) === 1;
  }

  /** Reads everything the ledger holds for this run. */
  async snapshot(): Promise<LedgerSnapshot> {
    const [runs, entries, rejected, log] = await Promise.all([
      this.#redis.hgetall(this.#key('runs')),
      this.#redis.hgetall(this.#key('entries')),
      this.#redis.hgetall(this.#key('rejected')),
      this.#redis.lrange(this.#key('log'), 0, -1),
    ]);
    const toMap = (hash: Record<string, string>) =>
      new Map(Object.entries(hash).map(([intent, count]) => [intent, Number(count)]));
    return {
      runs: toMap(runs),
      entries: toMap(entries),
      rejected: toMap(rejected),
      log: log.map((line) => JSON.parse(line) as LedgerEntry),
    };
  }

  /** Sums the counter `name` over all intents. */
  async total(name: 'runs' | 'entries' | 'rejected'): Promise<number> {
    const values = await this.#redis.hvals(this.#key(name));
    return values.reduce((sum, value) => sum + Number(value), 0);
  }

  close(): void {
    this.#redis.disconnect();
  }

  #key(name: string): string {
    return `${this.#ns}:${name}`;
  }
}
