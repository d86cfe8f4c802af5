import { type RecordWatch, RecordWatches } from '@trpc-idempotency/server';
import type { Pool } from 'pg';

/** The part of a pg `Client` that listening uses. */
interface ListeningClient {
  connect(): Promise<unknown>;
  query(text: string): Promise<unknown>;
  on(event: 'notification', listener: (message: { channel: string; payload?: string }) => void): unknown;
  on(event: 'error' | 'end', listener: (error?: Error) => void): unknown;
  end(): Promise<void>;
  /** pg's connection; its socket is unref'd so that a store nobody closed does not keep the process alive. */
  connection?: { stream?: { unref?: () => void } };
}

/** How soon a lost listening connection is opened again while duplicates wait. */
const RECONNECT_MS = 200;

/** A pg Pool also carries the Client class it makes its connections with, and the options it makes them with. */
interface PoolWithClient {
  Client?: new (options: unknown) => ListeningClient;
  options?: unknown;
}

/**
 * The watches of a PostgresStore (docs/protocol.md §3): ONE connection per store that `LISTEN`s on the table's
 * channel, where completions and releases announce their record key (statements.ts). It is opened with the
 * pool's own Client class and options, beside the pool (so `pool.end()` is never held up and the pool keeps
 * its size), when the first duplicate waits, and kept until `close()`. A lost connection wakes every watch
 * to read its record again, and the next wait opens a new one.
 */
export class PostgresWatches {
  readonly #pool: PoolWithClient;
  readonly #channel: string;
  readonly #watches: RecordWatches;
  #listening: Promise<ListeningClient> | undefined;
  /** A connection was lost: the next one, once listening, wakes every waiter again. */
  #lostOne = false;
  #closed = false;

  constructor(pool: Pool, channel: string) {
    this.#pool = pool as unknown as PoolWithClient;
    this.#channel = channel;
    this.#watches = new RecordWatches({ subscribe: () => this.#listen().then(() => {}), unsubscribe: () => {} });
  }

  /** Whether the pool can make a connection of its own to listen on (a pg Pool can). */
  get available(): boolean {
    return typeof this.#pool.Client === 'function';
  }

  watch(recordKey: string): RecordWatch {
    const watch = this.#watches.watch(recordKey);
    // The one LISTEN serves every record: a watch whose record already had one still needs the connection up.
    if (!this.#listening && !this.#closed) void this.#listen().catch(() => {});
    return watch;
  }

  /** Ends the listening connection; waits still open read their record once more. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#watches.notifyAll();
    const listening = this.#listening;
    this.#listening = undefined;
    const client = await listening?.catch(() => undefined);
    await client?.end().catch(() => {});
  }

  #listen(): Promise<ListeningClient> {
    if (this.#closed) return Promise.reject(new Error('PostgresStore is closed.'));
    this.#listening ??= this.#open();
    return this.#listening;
  }

  #open(): Promise<ListeningClient> {
    const client = new this.#pool.Client!(this.#pool.options);
    const lost = () => {
      if (this.#listening !== opened) return;
      this.#listening = undefined;
      this.#lostOne = true;
      // Announcements made while nobody listened are lost: every waiter reads its record again, and
      // while some still wait, a new connection is opened.
      this.#watches.notifyAll();
      if (this.#watches.size > 0 && !this.#closed) {
        setTimeout(() => void this.#listen().catch(() => {}), RECONNECT_MS).unref?.();
      }
    };
    client.on('error', lost);
    client.on('end', lost);
    client.on('notification', ({ channel, payload }) => {
      if (channel === this.#channel && payload) this.#watches.notify(payload);
    });
    const opened = (async () => {
      try {
        await client.connect();
        client.connection?.stream?.unref?.();
        // The channel is made of the checked table name only (names.ts): no quoting problem.
        await client.query(`LISTEN "${this.#channel}"`);
      } catch (error) {
        await client.end().catch(() => {});
        throw error;
      }
      if (this.#closed) await client.end().catch(() => {});
      if (this.#lostOne) {
        this.#lostOne = false;
        this.#watches.notifyAll();
      }
      return client;
    })();
    opened.catch(() => {
      if (this.#listening !== opened) return;
      this.#listening = undefined;
      this.#lostOne = true;
      if (this.#watches.size > 0 && !this.#closed) {
        setTimeout(() => void this.#listen().catch(() => {}), RECONNECT_MS).unref?.();
      }
    });
    return opened;
  }
}
