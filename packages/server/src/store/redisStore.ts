import { checkOptions, isBoolean, numberAbove, type OptionRules, required } from '@trpc-idempotency/protocol';
import { DeadlineQueue } from './deadlineQueue.js';
import { CLAIM_SCRIPT, COMPLETE_SCRIPT, RELEASE_SCRIPT, RENEW_LEASE_SCRIPT } from './redisScripts.js';
import { RedisWatches } from './redisWatches.js';
import {
  type ClaimRequest,
  type ClaimResult,
  type CompleteRequest,
  type IdempotencyStore,
  type RecordWatch,
  type ReleaseRequest,
  type RenewLeaseRequest,
  StoreFullError,
  StoreMisconfiguredError,
  StoreUnavailableError,
} from './types.js';

/**
 * The part of an ioredis `Redis` or `Cluster` that {@link RedisStore} uses; both fit as they are. It is
 * written out here so that the package's types do not need ioredis installed to compile.
 */
export interface RedisClient {
  /** ioredis' connection status: `'ready'`, `'reconnecting'`, `'end'`, ... */
  readonly status: string;
  defineCommand(name: string, definition: { numberOfKeys?: number; lua: string }): void;
  pipeline(): unknown;
}

/** Options of {@link RedisStore}. */
export interface RedisStoreOptions {
  /** An ioredis `Redis` or `Cluster`. The store adds its four scripts to it with `defineCommand`. */
  redis: RedisClient;
  /** Put in front of every record name. No braces: they would pin every record to one Cluster slot. Default `idem:`. */
  prefix?: string;
  /** How long one store call may take before it counts as unavailable, in ms. Default 1000. */
  timeoutMs?: number;
  /**
   * Off by default. After each claim and each completion, wait until this many replicas have the
   * write (Redis `WAIT`, sent in the same round trip), for at most `timeoutMs`. It narrows the window
   * in which a failover loses a lease or an outcome, at the cost of a replica round trip per call;
   * it does not make Redis consistent: a write that is not acknowledged in time still counts.
   */
  waitForReplicas?: { replicas: number; timeoutMs: number };
  /**
   * On by default. While some of the store's commands are in flight, writes the others of one event-loop turn
   * to the socket together (corked until the turn ends), where ioredis would make one `write()` per command; a
   * command sent while none is in flight goes out at once, so a lone request never waits.
   * Under load that is one system call for many requests' scripts, on both sides of the connection; the
   * commands, their order and their replies are unchanged. Commands the app sends on the same client in that
   * turn go out in the same write. With a Cluster, the connection of every master is held the same way.
   */
  coalesceWrites?: boolean;
  /**
   * Off by default. Before its first claim the store reads `INFO memory` (which managed services answer
   * where `CONFIG` is disabled) and refuses a Redis whose `maxmemory-policy` is not `noeviction`: under
   * memory pressure such a Redis drops keys (`volatile-*` those with a TTL, which every record has), and a
   * forgotten record lets its intent run a second time. `true` accepts that risk on purpose.
   */
  allowEviction?: boolean;
}

/** The part of a Node socket that write coalescing uses. */
interface CorkableStream {
  cork(): void;
  uncork(): void;
}

type ClaimReply = [string, (number | string)?, number?];

/** How the scripts wake a record's waiters: sharded pub/sub on a Cluster, so the message stays on the key's shard. */
type PublishCommand = 'PUBLISH' | 'SPUBLISH';

interface IdempotencyCommands {
  trpcIdempotencyClaim(
    key: string,
    fingerprint: string,
    token: string,
    leaseMs: number,
    retentionMs: number,
  ): Promise<ClaimReply>;
  trpcIdempotencyComplete(
    key: string,
    token: string,
    outcome: string,
    retentionMs: number,
    publish: PublishCommand,
  ): Promise<number>;
  trpcIdempotencyRelease(key: string, token: string, handlerBegan: 0 | 1, publish: PublishCommand): Promise<number>;
  trpcIdempotencyRenewLease(key: string, token: string, leaseMs: number, retentionMs: number): Promise<number>;
}

/** Tells an ioredis `Cluster` (`isCluster`) and a Sentinel-managed `Redis` (`options.sentinels`) apart. */
function redisKind(redis: RedisClient): RedisStore['kind'] {
  const client = redis as { isCluster?: boolean; options?: { sentinels?: unknown[] | null } };
  if (client.isCluster === true) return 'redis-cluster';
  if (Array.isArray(client.options?.sentinels) && client.options.sentinels.length > 0) return 'redis-sentinel';
  return 'redis';
}

const REDIS_STORE_RULES: OptionRules<RedisStoreOptions> = {
  redis: required(
    (value) =>
      typeof (value as { defineCommand?: unknown } | null)?.defineCommand === 'function'
        ? undefined
        : 'must be an ioredis Redis or Cluster',
    'is required: an ioredis Redis or Cluster (new Redis(process.env.REDIS_URL))',
  ),
  prefix: (value) =>
    typeof value !== 'string' ? 'must be a string' : /[{}]/.test(value) ? 'must not contain braces' : undefined,
  timeoutMs: numberAbove(0, 'ms'),
  waitForReplicas: (value) => {
    const wait = value as { replicas?: unknown; timeoutMs?: unknown } | null;
    const ok =
      typeof wait === 'object' &&
      wait !== null &&
      Object.keys(wait).every((name) => name === 'replicas' || name === 'timeoutMs') &&
      Number.isInteger(wait.replicas) &&
      (wait.replicas as number) > 0 &&
      typeof wait.timeoutMs === 'number' &&
      wait.timeoutMs > 0;
    return ok ? undefined : 'needs a positive integer replicas and timeoutMs: { replicas: 1, timeoutMs: 50 }';
  },
  coalesceWrites: isBoolean,
  allowEviction: isBoolean,
};

const UNREACHABLE_STATES = new Set(['reconnecting', 'close', 'end', 'disconnecting']);

/**
 * An idempotency store on Redis (single node or Cluster) through ioredis. Each operation is one
 * Lua script call: a fresh request costs two Redis calls (claim, complete) and a replay costs one.
 *
 * @example
 * const store = new RedisStore({ redis: new Redis(process.env.REDIS_URL) });
 */
export class RedisStore implements IdempotencyStore {
  /** `redis`, `redis-cluster` or `redis-sentinel`, from the client it was given. */
  readonly kind: 'redis' | 'redis-cluster' | 'redis-sentinel';
  readonly #redis: RedisClient & IdempotencyCommands;
  readonly #prefix: string;
  readonly #timeoutMs: number;
  readonly #deadlines: DeadlineQueue;
  readonly #coalesceWrites: boolean;
  /** The store's sockets are corked until the end of this turn. */
  #corked = false;
  readonly #waitForReplicas: { replicas: number; timeoutMs: number } | undefined;
  /** The eviction policy was read and keeps records (or `allowEviction`): claims need not wait for the check. */
  #keepsRecords: boolean;
  #evictionCheck: Promise<void> | undefined;
  readonly #publish: PublishCommand;
  /** The subscriber connection and the records it watches, made on the first wait (redisWatches.ts). */
  readonly #watches: RedisWatches;

  constructor(options: RedisStoreOptions) {
    checkOptions('new RedisStore', options, REDIS_STORE_RULES);
    const prefix = options.prefix ?? 'idem:';
    const timeoutMs = options.timeoutMs ?? 1000;
    const redis = options.redis as RedisClient & IdempotencyCommands;
    redis.defineCommand('trpcIdempotencyClaim', { numberOfKeys: 1, lua: CLAIM_SCRIPT });
    redis.defineCommand('trpcIdempotencyComplete', { numberOfKeys: 1, lua: COMPLETE_SCRIPT });
    redis.defineCommand('trpcIdempotencyRelease', { numberOfKeys: 1, lua: RELEASE_SCRIPT });
    redis.defineCommand('trpcIdempotencyRenewLease', { numberOfKeys: 1, lua: RENEW_LEASE_SCRIPT });
    this.#redis = redis;
    this.#prefix = prefix;
    this.kind = redisKind(redis);
    const wait = options.waitForReplicas;
    this.#waitForReplicas = wait;
    this.#timeoutMs = timeoutMs + (wait?.timeoutMs ?? 0);
    this.#deadlines = new DeadlineQueue(this.#timeoutMs);
    this.#coalesceWrites = options.coalesceWrites ?? true;
    this.#keepsRecords = options.allowEviction === true;
    const sharded = this.kind === 'redis-cluster';
    this.#publish = sharded ? 'SPUBLISH' : 'PUBLISH';
    this.#watches = new RedisWatches(redis, { sharded });
    // A client without duplicate() (a stand-in of your own) cannot subscribe: its waiters poll instead.
    if (!this.#watches.available) this.watch = undefined;
  }

  /**
   * Watches a record for a waiting duplicate (docs/protocol.md §3): the store's one subscriber connection
   * hears the completion or release that the scripts publish, from any process. `undefined` when the client
   * cannot make a subscriber (no `duplicate()`): waiters then ask again on a timer.
   */
  watch?(recordKey: string): RecordWatch {
    return this.#watches.watch(this.#prefix + recordKey);
  }

  /**
   * Closes the store's subscriber connection, if it made one; its own client is yours to close. Duplicates
   * still waiting read their record once more and then wait on a timer. Call it before `redis.quit()`.
   */
  close(): void {
    this.#watches.close();
  }

  /**
   * Checks that this Redis keeps its records (the eviction policy, see `allowEviction`), so that a bad
   * setup fails at start-up with a typed error rather than at the first keyed call. Claims run the same
   * check once by themselves.
   *
   * @example
   * const store = await new RedisStore({ redis }).ready(); // StoreMisconfiguredError on maxmemory-policy allkeys-lru
   */
  async ready(): Promise<this> {
    await this.#checkEviction();
    return this;
  }

  async claim({ recordKey, fingerprint, token, leaseMs, retentionMs }: ClaimRequest): Promise<ClaimResult> {
    if (!this.#keepsRecords) await this.#checkEviction();
    const key = this.#prefix + recordKey;
    const reply = await this.#call<ClaimReply>('trpcIdempotencyClaim', [
      key,
      fingerprint,
      token,
      leaseMs,
      retentionMs,
    ]).catch(refuseWhenFull);
    switch (reply[0]) {
      case 'claimed':
        return { status: 'claimed', fence: Number(reply[1]) };
      case 'in_progress':
        return { status: 'in_progress', leaseRemainingMs: Number(reply[1]), heldForMs: Number(reply[2]) };
      case 'mismatch':
        return { status: 'mismatch' };
      case 'completed':
        return { status: 'completed', outcome: String(reply[1]) };
      default:
        throw new StoreUnavailableError(`Unexpected reply from the claim script: ${JSON.stringify(reply)}`);
    }
  }

  async complete({ recordKey, token, outcome, retentionMs }: CompleteRequest): Promise<boolean> {
    const key = this.#prefix + recordKey;
    const args = [key, token, outcome, retentionMs, this.#publish];
    return (await this.#call<number>('trpcIdempotencyComplete', args)) === 1;
  }

  async release({ recordKey, token, handlerBegan }: ReleaseRequest): Promise<boolean> {
    const key = this.#prefix + recordKey;
    const args = [key, token, handlerBegan ? 1 : 0, this.#publish];
    return (await this.#call<number>('trpcIdempotencyRelease', args)) === 1;
  }

  async renewLease({ recordKey, token, leaseMs, retentionMs }: RenewLeaseRequest): Promise<boolean> {
    const key = this.#prefix + recordKey;
    return (await this.#call<number>('trpcIdempotencyRenewLease', [key, token, leaseMs, retentionMs])) === 1;
  }

  /** Runs a script followed, in the same pipeline, by `WAIT`: for `waitForReplicas`. */
  async #replicated<T>(
    name: keyof IdempotencyCommands,
    args: Array<string | number>,
    wait: { replicas: number; timeoutMs: number },
  ): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      // The pipeline goes to the node of the script's key, so WAIT asks that node's replicas.
      const pipeline = this.#redis.pipeline() as unknown as Record<string, (...a: unknown[]) => unknown>;
      pipeline[name]!(...args);
      pipeline.wait!(wait.replicas, wait.timeoutMs);
      const results = (await pipeline.exec!()) as Array<[Error | null, unknown]> | null;
      const [error, reply] = results?.[0] ?? [new Error('Empty pipeline reply.'), undefined];
      if (!error) return reply as T;
      // ioredis follows a Cluster redirection in a pipeline only when every command in it was
      // redirected, and WAIT never is; nor does it refresh its slot map then. After a failover the
      // script would be sent to the old node forever. The redirected script did not run: refresh
      // the slot map and send it once more.
      const redirected = /^(MOVED|ASK|TRYAGAIN|CLUSTERDOWN)\b/.test(error.message);
      const cluster = this.#redis as { refreshSlotsCache?: (callback: () => void) => void };
      if (!redirected || attempt > 1 || typeof cluster.refreshSlotsCache !== 'function') throw error;
      await new Promise<void>((resolve) => cluster.refreshSlotsCache!(() => resolve()));
    }
  }

  /**
   * Runs one script within the timeout (after each claim and completion, with `WAIT` when `waitForReplicas` is
   * on); a connection that is known to be down fails at once.
   */
  #call<T>(name: keyof IdempotencyCommands, args: Array<string | number>): Promise<T> {
    const status = this.#redis.status;
    if (UNREACHABLE_STATES.has(status)) {
      return Promise.reject(new StoreUnavailableError(`Redis is not connected (status: ${status}).`));
    }
    // A command sent while none of ours is in flight goes out at once, so a lone request waits for nothing;
    // once some are in flight, the client is busy, and the rest of this turn's commands are written together.
    if (this.#coalesceWrites && status === 'ready' && this.#deadlines.inFlight > 0) this.#corkUntilTurnEnds();
    const wait = this.#waitForReplicas;
    let sent: Promise<T>;
    try {
      sent =
        wait && (name === 'trpcIdempotencyClaim' || name === 'trpcIdempotencyComplete')
          ? this.#replicated<T>(name, args, wait)
          : (this.#redis[name] as (...a: Array<string | number>) => Promise<T>)(...args);
    } catch (error) {
      sent = Promise.reject(error);
    }
    return this.#deadlines.within(
      sent,
      this.#timedOut,
      toUnavailable,
      // A claim that timed out may still run later (ioredis resends queued commands), and would then hold
      // a lease nobody renews. Queue a release behind it so that it lets go at once; the handler never
      // began, so the key is not bound to this input.
      name === 'trpcIdempotencyClaim' ? () => this.#releaseLateClaim(args) : undefined,
    );
  }

  /** Reads the eviction policy once; a Redis that could not be asked is asked again by the next claim. */
  #checkEviction(): Promise<void> {
    if (this.#keepsRecords) return Promise.resolve();
    this.#evictionCheck ??= this.#readEvictionPolicy().then(
      () => {
        this.#keepsRecords = true;
      },
      (error: unknown) => {
        if (!(error instanceof StoreMisconfiguredError)) this.#evictionCheck = undefined;
        throw error;
      },
    );
    return this.#evictionCheck;
  }

  async #readEvictionPolicy(): Promise<void> {
    const client = this.#redis as RedisClient & {
      info?: (section: string) => Promise<string>;
      nodes?: (role: 'master') => Array<{ info(section: string): Promise<string> }>;
    };
    const servers =
      this.kind === 'redis-cluster' && typeof client.nodes === 'function' ? client.nodes('master') : [client];
    if (servers.length === 0) throw new StoreUnavailableError('Redis Cluster has no master to ask yet.');
    for (const server of servers) {
      let text: string;
      try {
        text = await this.#deadlines.within(
          Promise.resolve().then(() => server.info!('memory')),
          this.#timedOut,
          toUnavailable,
        );
      } catch (error) {
        const cause = (error as { cause?: { message?: string } }).cause?.message ?? (error as Error).message;
        if (/NOPERM|unknown command/i.test(String(cause))) {
          throw new StoreMisconfiguredError(
            `RedisStore cannot read Redis's eviction policy (INFO memory answered: ${cause}). Allow INFO for this user, ` +
              'or, if its maxmemory-policy is noeviction, say so with new RedisStore({ redis, allowEviction: true }).',
          );
        }
        throw error;
      }
      const policy = /^maxmemory_policy:(\S+)/m.exec(text)?.[1];
      const maxmemory = /^maxmemory_human:(\S+)/m.exec(text)?.[1] ?? /^maxmemory:(\d+)/m.exec(text)?.[1];
      if (policy !== 'noeviction') {
        throw new StoreMisconfiguredError(
          `RedisStore refuses a Redis with maxmemory-policy ${policy ?? '(unknown)'} (maxmemory ${maxmemory ?? '?'}): ` +
            'when memory runs short it drops keys, idempotency records included, and a forgotten record lets its intent ' +
            'run a second time. Set maxmemory-policy noeviction (at maxmemory, writes then fail and the store answers 503), ' +
            'or give idempotency a Redis of its own with that policy. To accept the risk: new RedisStore({ redis, allowEviction: true }).',
        );
      }
    }
  }

  #releaseLateClaim(claimArgs: Array<string | number>): void {
    const [key, , token] = claimArgs as [string, string, string];
    void this.#redis.trpcIdempotencyRelease(key, token, 0, this.#publish).catch(() => {});
  }

  readonly #timedOut = () => new StoreUnavailableError(`Redis did not answer within ${this.#timeoutMs} ms.`);

  /**
   * Holds this turn's writes in the socket's buffer and sends them in one `writev` when the turn's I/O
   * callbacks are done (`setImmediate`), so a burst of requests costs one system call, not one per command.
   */
  #corkUntilTurnEnds(): void {
    if (this.#corked) return;
    const corked: CorkableStream[] = [];
    for (const stream of this.#streams()) {
      if (typeof stream?.cork !== 'function' || typeof stream.uncork !== 'function') continue;
      stream.cork();
      corked.push(stream as CorkableStream);
    }
    if (corked.length === 0) return;
    this.#corked = true;
    setImmediate(() => {
      this.#corked = false;
      for (const stream of corked) stream.uncork();
    });
  }

  /** The sockets the store's commands go out on: the client's own, or each Cluster master's. */
  #streams(): Array<Partial<CorkableStream> | undefined> {
    const client = this.#redis as {
      stream?: Partial<CorkableStream>;
      nodes?: (role: 'master') => Array<{ stream?: Partial<CorkableStream> }>;
    };
    if (this.kind === 'redis-cluster' && typeof client.nodes === 'function') {
      return client.nodes('master').map((node) => node.stream);
    }
    return [client.stream];
  }
}

/**
 * A Redis at maxmemory with noeviction answers writes with an OOM error: it is full, not unreachable, so a
 * claim is refused as full (503 STORE_FULL, never run unprotected under fail-open) until retention frees room.
 */
function refuseWhenFull(error: unknown): never {
  const reply = (error as { cause?: unknown }).cause ?? error;
  if (/^OOM\b/.test(String((reply as Error)?.message))) {
    throw new StoreFullError(`Redis is at maxmemory and refuses writes: ${(reply as Error).message}`, 1000);
  }
  throw error;
}

function toUnavailable(error: unknown): unknown {
  if (error instanceof StoreUnavailableError) return error;
  return new StoreUnavailableError(`Redis call failed: ${(error as Error)?.message ?? String(error)}`, {
    cause: error,
  });
}
