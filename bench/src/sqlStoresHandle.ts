import { type ChildProcess, fork } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DriverCounts } from './sqlStoresCounting';
import type { SqlDatabase, VariantId } from './sqlStoresVariants';

const here = dirname(fileURLToPath(import.meta.url));

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
  const child = fork(join(here, 'sqlStoresServer.ts'), [], {
    execArgv: ['--import', 'tsx'],
    env: {
      ...process.env,
      // As deployed: tRPC leaves stack traces out of error answers in production.
      NODE_ENV: 'production',
      SQL_BENCH_SERVER_CONFIG: JSON.stringify(config),
      TSX_TSCONFIG_PATH: join(here, '..', 'tsconfig.json'),
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    const onExit = (code: number | null) =>
      reject(new Error(`bench:sql server ${config.database}/${config.variant} exited early with code ${code}`));
    child.once('exit', onExit);
    child.once('message', (message: SqlServerReply) => {
      child.off('exit', onExit);
      if (message.type === 'ready') resolve(message.port);
      else reject(new Error(`bench:sql server sent ${message.type} before ready`));
    });
  });
  return {
    config,
    url: `http://127.0.0.1:${port}`,
    stats: () => askStats(child),
    stop: () => stopChild(child),
  };
}

function askStats(child: ChildProcess): Promise<SqlServerStats> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: SqlServerReply) => {
      if (message.type !== 'stats') return;
      child.off('message', onMessage);
      const { type: _type, ...stats } = message;
      resolve(stats);
    };
    child.on('message', onMessage);
    if (!child.send({ type: 'stats' } satisfies SqlServerRequest)) reject(new Error('bench:sql IPC channel is closed'));
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.send({ type: 'exit' } satisfies SqlServerRequest);
  });
}
