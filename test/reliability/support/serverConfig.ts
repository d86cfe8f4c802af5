/** How a reliability server process is set up; passed to it as JSON in RELIABILITY_SERVER. */
export interface ServerConfig {
  store: 'redis' | 'cluster' | 'sentinel' | 'memory' | 'postgres';
  /** PostgresStore: the database (the pool has `poolSize` connections, default 20) and the store's table. */
  postgresUrl?: string;
  table?: string;
  poolSize?: number;
  /**
   * PostgresStore with `transaction: true`: the handler writes its ledger row through ctx.idempotency.tx
   * into `pgLedger.ledger`, after counting its run in `pgLedger.runs` (autocommit), both in the same database.
   */
  pgLedger?: { runs: string; ledger: string };
  redisUrl?: string;
  clusterNodes?: Array<{ host: string; port: number }>;
  /** The sentinels and the name they monitor the primary under, for `store: 'sentinel'`. */
  sentinels?: Array<{ host: string; port: number }>;
  sentinelName?: string;
  /** RedisStore prefix; each scenario uses its own. */
  prefix?: string;
  storeTimeoutMs?: number;
  /** RedisStore `waitForReplicas`, for the Cluster failover scenario. */
  waitForReplicas?: { replicas: number; timeoutMs: number };
  leaseMs?: number;
  retentionMs?: number;
  /** The side-effect ledger's redis-server; without it the handler writes nothing. */
  ledgerUrl?: string;
  ledgerNamespace?: string;
  /** The handler sleeps a random time in this range before its ledger write, in ms. */
  handlerSleepMs?: [number, number];
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
  /** With `pgLedger`: ledger rows its handlers inserted through their transactions, committed or not. */
  ledgerInserts: number;
}
