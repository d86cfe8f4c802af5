import { execFile, spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import mysql from 'mysql2/promise';
import { freePort } from './redisServer.js';

const run = promisify(execFile);

/** A private MariaDB server that a fault test may kill: its own data directory, port and socket. */
export interface MySqlServer {
  port: number;
  /** root, no password, on the database `app` (utf8mb4_bin). */
  url: string;
  dir: string;
  /** `kill -9` of mariadbd, as a crash would; resolves once it is gone. */
  kill(): Promise<void>;
  /** Starts mariadbd again on the same directory and port (InnoDB crash recovery). */
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** The MariaDB server program, or undefined when MariaDB is not installed. */
export function mariadbdBin(): string | undefined {
  for (const path of ['/usr/sbin/mariadbd', '/usr/sbin/mysqld', '/usr/local/bin/mariadbd']) {
    if (existsSync(path)) return path;
  }
  const probe = spawnSync('which', ['mariadbd'], { encoding: 'utf8' });
  return probe.status === 0 ? probe.stdout.trim() : undefined;
}

/**
 * An initialized data directory, made once per machine and copied for each server: mariadb-install-db
 * takes seconds, a copy a fraction of one. Made in a directory of its own and renamed into place, so
 * that test files starting at once never see half of one.
 */
async function template(): Promise<string> {
  const path = join(tmpdir(), `trpc-idem-mariadb-template-${process.getuid?.() ?? 'user'}`);
  if (existsSync(join(path, 'mysql'))) return path;
  const building = mkdtempSync(join(tmpdir(), 'trpc-idem-mariadb-build-'));
  const data = join(building, 'data');
  await run('mariadb-install-db', [
    '--no-defaults',
    `--datadir=${data}`,
    '--auth-root-authentication-method=normal',
    '--skip-test-db',
    ...(process.getuid?.() === 0 ? ['--user=root'] : []),
  ]);
  try {
    renameSync(data, path);
  } catch {
    // Another test file made it first.
  }
  rmSync(building, { recursive: true, force: true });
  return path;
}

/**
 * Starts mariadbd on a copy of a fresh data directory, on a free loopback port, with root and no
 * password, and creates the database `app`. `settings` go to mariadbd as `--name=value`.
 */
export async function startMySqlServer(settings: Record<string, string> = {}): Promise<MySqlServer> {
  const bin = mariadbdBin();
  if (!bin) throw new Error('MariaDB is not installed (Debian/Ubuntu: apt-get install -y mariadb-server).');
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), `trpc-idem-mariadb-${port}-`));
  const data = join(dir, 'data');
  cpSync(await template(), data, { recursive: true });
  const args = [
    '--no-defaults',
    `--datadir=${data}`,
    `--port=${port}`,
    '--bind-address=127.0.0.1',
    `--socket=${join(dir, 'sock')}`,
    `--pid-file=${join(dir, 'pid')}`,
    `--log-error=${join(dir, 'err.log')}`,
    '--innodb-buffer-pool-size=32M',
    ...(process.getuid?.() === 0 ? ['--user=root'] : []),
    ...Object.entries(settings).map(([name, value]) => `--${name}=${value}`),
  ];
  let child: ReturnType<typeof spawn> | undefined;
  let exited: Promise<void> = Promise.resolve();
  const admin = () => mysql.createConnection({ host: '127.0.0.1', port, user: 'root', connectTimeout: 1000 });
  const server: MySqlServer = {
    port,
    url: `mysql://root@127.0.0.1:${port}/app`,
    dir,
    async kill() {
      child?.kill('SIGKILL');
      await exited;
    },
    async start() {
      const started = spawn(bin, args, { stdio: 'ignore' });
      child = started;
      exited = new Promise((resolve) => started.once('exit', () => resolve()));
      const deadline = Date.now() + 60_000;
      for (;;) {
        if (started.exitCode !== null) throw new Error(`mariadbd exited at start: ${errorLog(dir)}`);
        try {
          const connection = await admin();
          await connection.end();
          return;
        } catch (error) {
          if (Date.now() > deadline) throw new Error(`mariadbd did not start within 60 s: ${String(error)}`);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
    },
    async stop() {
      await server.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await server.start();
  const connection = await admin();
  await connection.query('CREATE DATABASE app CHARACTER SET utf8mb4 COLLATE utf8mb4_bin');
  await connection.end();
  return server;
}

function errorLog(dir: string): string {
  try {
    return readFileSync(join(dir, 'err.log'), 'utf8').split('\n').slice(-10).join('\n');
  } catch {
    return '(no error log)';
  }
}
