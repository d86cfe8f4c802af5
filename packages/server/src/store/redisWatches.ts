import { RecordWatches } from './recordWatches.js';
import type { RecordWatch } from './types.js';

/** The part of an ioredis `Redis` or `Cluster` that a subscriber connection uses. */
interface SubscriberClient {
  readonly status: string;
  subscribe?(...channels: string[]): Promise<unknown>;
  unsubscribe?(...channels: string[]): Promise<unknown>;
  ssubscribe?(...channels: string[]): Promise<unknown>;
  sunsubscribe?(...channels: string[]): Promise<unknown>;
  on(event: string, listener: (...args: any[]) => void): unknown;
  off?(event: string, listener: (...args: any[]) => void): unknown;
  disconnect(): void;
}

/** Resolves at the first of `events` on `client`. */
function settled(client: SubscriberClient, events: string[]): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      for (const event of events) client.off?.(event, done);
      resolve();
    };
    for (const event of events) client.on(event, done);
  });
}

/** The part of the store's own client that makes the subscriber: ioredis' `duplicate`. */
interface DuplicatingClient {
  duplicate?(...args: unknown[]): unknown;
  options?: { keyPrefix?: string };
}

/**
 * The watches of a RedisStore (docs/protocol.md §3): ONE subscriber connection per store, made with
 * ioredis' `duplicate()` when the first duplicate waits, that hears the completions and releases the store's
 * scripts publish. Each record's channel is its key's own name (channels and keys are apart in Redis), so
 * on a Cluster the sharded channel (`SSUBSCRIBE`, Redis 7.0) lives on the key's own shard, and ioredis'
 * `shardedSubscribers` keeps one subscriber connection per master there. A record's channel is subscribed
 * while some request waits for it. After the subscriber reconnects (ioredis subscribes again by itself),
 * every watch is woken to read its record again, since a message sent meanwhile is lost.
 */
export class RedisWatches {
  readonly #client: DuplicatingClient;
  readonly #sharded: boolean;
  readonly #watches: RecordWatches;
  #subscriber: SubscriberClient | undefined;
  #closed = false;

  constructor(client: unknown, options: { sharded: boolean }) {
    this.#client = client as DuplicatingClient;
    this.#sharded = options.sharded;
    this.#watches = new RecordWatches({
      subscribe: (channel) => this.#subscribe(channel),
      unsubscribe: (channel) => this.#unsubscribe(channel),
    });
  }

  /** Whether the client can make a subscriber at all (a real ioredis client can). */
  get available(): boolean {
    return typeof this.#client.duplicate === 'function';
  }

  /** How many records are watched now, for tests and telemetry. */
  get watchedRecords(): number {
    return this.#watches.size;
  }

  /** Watches the record stored under `key` (the prefixed record key the scripts get). */
  watch(key: string): RecordWatch {
    // ioredis puts its keyPrefix before KEYS[1], and never before a channel: the scripts publish on KEYS[1].
    return this.#watches.watch((this.#client.options?.keyPrefix ?? '') + key);
  }

  /** Closes the subscriber connection; waits still open are woken, and read their record once more. */
  close(): void {
    this.#closed = true;
    this.#watches.notifyAll();
    this.#subscriber?.disconnect();
    this.#subscriber = undefined;
  }

  async #subscribe(channel: string): Promise<void> {
    if (this.#closed) throw new Error('RedisStore is closed.');
    const subscriber = this.#connection();
    // While ioredis sets a new connection up (status 'connect'), it writes a SUBSCRIBE at once instead of queueing
    // it: the connection is then in subscriber mode, ioredis refuses its own ready check (INFO) there, drops the
    // connection and fails every command queued on it. Sent once the connection is ready (or lost: then it is
    // queued, and resent on reconnect), it comes after the check. (A Cluster's sharded subscribers are not this.)
    if (!this.#sharded && subscriber.status === 'connect') await settled(subscriber, ['ready', 'close', 'end']);
    await (this.#sharded ? subscriber.ssubscribe!(channel) : subscriber.subscribe!(channel));
  }

  #unsubscribe(channel: string): void {
    const subscriber = this.#subscriber;
    if (!subscriber || this.#closed) return;
    const sent = this.#sharded ? subscriber.sunsubscribe?.(channel) : subscriber.unsubscribe?.(channel);
    void sent?.catch(() => {});
  }

  /** The subscriber connection, made on the first wait. */
  #connection(): SubscriberClient {
    if (this.#subscriber) return this.#subscriber;
    const subscriber = (
      this.#sharded ? this.#client.duplicate!([], { shardedSubscribers: true }) : this.#client.duplicate!()
    ) as SubscriberClient;
    // Errors while Redis is away are the store's to report, as 503s on its own connection; here they
    // only mean that notifications pause, which the waiters' re-read covers.
    subscriber.on('error', () => {});
    const onMessage = (channel: string) => this.#watches.notify(channel);
    subscriber.on(this.#sharded ? 'smessage' : 'message', onMessage);
    // A message published while a connection was down is lost: every waiter reads its record again when
    // it is lost and when it is back. A Cluster's subscribers report each shard's loss as '-node', and
    // 'subscribersReady' once they are all subscribed again (it also comes as shards start: not a loss).
    let lost = false;
    const onLost = () => {
      lost = true;
      this.#watches.notifyAll();
    };
    const onBack = () => {
      if (!lost) return;
      lost = false;
      this.#watches.notifyAll();
    };
    let connected = false;
    subscriber.on(this.#sharded ? '-node' : 'close', () => {
      if (this.#sharded || connected) onLost();
    });
    subscriber.on(this.#sharded ? 'subscribersReady' : 'ready', () => {
      connected = true;
      onBack();
    });
    this.#subscriber = subscriber;
    return subscriber;
  }
}
