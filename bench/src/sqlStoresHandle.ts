import type { ChildProcess } from 'node:child_process';
import { askChild, forkBenchServer, stopChild } from './childServer';
import type { DriverCounts } from './sqlStoresCounting';
import type { SqlDatabase, VariantId } from './sqlStoresVariants';

/** What the runner tells a bench:sql server process when it forks it. */
export interface SqlServerConfig {
  database: SqlDatabase;
  variant: VariantId;
  /** MariaDB: the database with the store's schema and the orders table. */
  mysqlUrl?: string;
  /** SQLite: the file with the store's schema and the orders table. */
  sqliteFile?: string;
}

/** What a server process counted since it started. */
export interface SqlServerStats extends DriverCounts {
  /** HTTP requests it received. */
  requests: number;
  /** Handler runs. */
  runs: number;
  /** CPU time of the process, user + system, in µs. */
  cpuUs: number;
}

/** Messages between the runner and a server process. */
export type SqlServerRequest = { type: 'stats' } | { type: 'exit' };
export type SqlServerReply = { type: 'ready'; port: number } | ({ type: 'stats' } & SqlServerStats);

/** A running server process of one variant. */
export interface SqlServerHandle {
  config: SqlServerConfig;
  url: string;
  stats(): Promise<SqlServerStats>;
  stop(): Promise<void>;
}

/** Forks sqlStoresServer.ts (through tsx) for one variant and waits until it listens. */
export async function startSqlServer(config: SqlServerConfig): Promise<SqlServerHandle> {
  const { child, port } = await forkBenchServer('sqlStoresServer.ts', {
    env: { SQL_BENCH_SERVER_CONFIG: JSON.stringify(config) },
    name: `bench:sql server ${config.database}/${config.variant}`,
  });
  return {
    config,
    url: `http://127.0.0.1:${port}`,
    stats: () => askStats(child),
    stop: () => stopChild(child),
  };
}

async function askStats(child: ChildProcess): Promise<SqlServerStats> {
  const { type: _type, ...stats } = await askChild<Extract<SqlServerReply, { type: 'stats' }>>(
    child,
    { type: 'stats' } satisfies SqlServerRequest,
    'stats',
    'bench:sql',
  );
  return stats;
}
