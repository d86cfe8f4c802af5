/** How a reliability server process is set up; passed to it as JSON in RELIABILITY_SERVER. */
export interface ServerConfig {
  store: 'redis' | 'cluster' | 'sentinel' | 'memory' | 'postgres' | 'mysql' | 'sqlite';
  /** PostgresStore or MySqlStore: the database (the pool has `poolSize` connections, default 20) and the store's table. */
  postgresUrl?: string;
  mysqlUrl?: string;
  /** SqliteStore: the database file. */
  sqliteFile?: string;
  table?: string;
  poolSize?: number;
  /**
   * A PostgresStore, MySqlStore or SqliteStore whose handler writes its ledger row into the table `sqlLedger.table`
   * of the store's own database (sqlLedger.ts), after appending its run to the file `sqlLedger.runsFile`. With
   * `transaction: true` (the default) the row goes through ctx.idempotency.tx; with false, it is an autocommit
   * write of its own, as a handler without transaction: true would make.
   */
  sqlLedger?: { table: string; runsFile: string; transaction?: boolean };
  /** With `sqlLedger`: the handler writes its row before its sleep, not after (a crash then finds it uncommitted). */
  writeBeforeSleep?: boolean;
  redisUrl?: string;
  clusterNodes?: Array<{ host: string; port: number }>;
  /** The sentinels and the name they monitor the primary under, for `store: 'sentinel'`. */
  sentinels?: Array<{ host: string; port: number }>;
  sentinelName?: string;
  /** RedisStore prefix; each scenario uses its own. */
  prefix?: string;
  storeTimeoutMs?: number;
  /** The port to listen on; default a free one. A restarted process takes its predecessor's. */
  port?: number;
  /** RedisStore `waitForReplicas`, for the Cluster failover scenario. */
  waitForReplicas?: { replicas: number; timeoutMs: number };
  leaseMs?: number;
  retentionMs?: number;
  /** createIdempotency `inProgress` (docs/protocol.md §3); without it, the defaults. */
  inProgress?: { waitMs?: number; maxWaitMs?: number; rereadMs?: number };
  /** The side-effect ledger's redis-server; without it the handler writes nothing. */
  ledgerUrl?: string;
  ledgerNamespace?: string;
  /** The handler sleeps a random time in this range before its ledger write, in ms. */
  handlerSleepMs?: [number, number];
  /**
   * The handler also holds, after its sleep, until the gate is opened: `POST /__open-gate` on this process opens
   * it for every handler running or still to come. Without it, nothing holds.
   */
  handlerGate?: boolean;
  /**
   * The name the store's connections give their server: ioredis `connectionName` (in `CLIENT LIST`, and copied to
   * the subscriber `duplicate()` makes) for `store: 'redis'`, pg `application_name` (in `pg_stat_activity`, and
   * used by the `LISTEN` connection too) for `store: 'postgres'`. Without it, none.
   */
  connectionName?: string;
  /**
   * On SIGTERM: `drainIdempotency({ timeoutMs })`, print `DRAINED <report JSON>`, close the HTTP server and exit.
   * Without it, SIGTERM ends the process at once, as Node does by default.
   */
  drainOnSigterm?: { timeoutMs: number };
}

/** What GET /__stats of a server process answers. */
export interface ServerStats {
  pid: number;
  memory: NodeJS.MemoryUsage;
  activeResources: number;
  unhandledRejections: number;
  internalErrors: number;
  memoryStoreSize: number | null;
  /** How many idempotency events of each type it saw; `storeErrorAfterRun` is a failed complete/release. */
  events: Record<string, number>;
  /** With `sqlLedger`: ledger rows its handlers inserted, committed or not. */
  ledgerInserts: number;
  /** Requests to the tRPC app received and not yet answered (GET /__stats itself not counted). */
  inFlight: number;
  /** The `waitedMs` of every event that had one: how long each duplicate waited for another holder. */
  waitedMs: number[];
  /** CPU time the process used so far (user + system), in ms. */
  cpuMs: number;
}
