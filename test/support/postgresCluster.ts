import { execFile, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './redisServer.js';

const run = promisify(execFile);

/** A private PostgreSQL cluster that a fault test may kill: its own data folder, port and socket folder. */
export interface PostgresCluster {
  port: number;
  url: string;
  dir: string;
  /** The postmaster's process id, read from postmaster.pid. */
  postmasterPid(): number;
  /** `kill -9` of the postmaster only, as a crash would; its backends notice and exit on their own. */
  killPostmaster(): Promise<void>;
  /** Starts the cluster again on the same folder and port (crash recovery replays the WAL). */
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** The folder of PostgreSQL's programs (initdb, pg_ctl), or undefined when PostgreSQL is not installed. */
export function postgresBin(): string | undefined {
  const versions = existsSync('/usr/lib/postgresql') ? readdirSync('/usr/lib/postgresql').sort().reverse() : [];
  for (const version of versions) {
    const bin = `/usr/lib/postgresql/${version}/bin`;
    if (existsSync(join(bin, 'pg_ctl'))) return bin;
  }
  const probe = spawnSync('pg_config', ['--bindir'], { encoding: 'utf8' });
  return probe.status === 0 ? probe.stdout.trim() : undefined;
}

/** PostgreSQL refuses to run as root: as root, its programs run as the postgres user. */
function asOwner(command: string, args: string[]): [string, string[]] {
  return process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args];
}

/**
 * Creates a cluster with initdb in a temp folder and starts it with pg_ctl on a free loopback port,
 * trust auth for the postgres user. `settings` go to postgres as `-c name=value`.
 */
export async function startPostgresCluster(settings: Record<string, string> = {}): Promise<PostgresCluster> {
  const bin = postgresBin();
  if (!bin) throw new Error('PostgreSQL is not installed (Debian/Ubuntu: apt-get install -y postgresql).');
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), `trpc-idem-pg-${port}-`));
  const data = join(dir, 'data');
  if (process.getuid?.() === 0) {
    const uid = Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim());
    const gid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim());
    chownSync(dir, uid, gid);
  }
  await run(...asOwner(join(bin, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']));
  const options = [
    `-p ${port}`,
    `-k ${dir}`,
    '-c listen_addresses=127.0.0.1',
    ...Object.entries(settings).map(([name, value]) => `-c ${name}=${value}`),
  ].join(' ');
  const pgCtl = (args: string[]) => run(...asOwner(join(bin, 'pg_ctl'), ['-D', data, ...args]));
  const postmasterPid = () => Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
  const cluster: PostgresCluster = {
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    dir,
    postmasterPid,
    async killPostmaster() {
      const pid = postmasterPid();
      const children = childPids(pid);
      process.kill(pid, 'SIGKILL');
      // The backends notice the postmaster is gone and exit; a restart must wait for them, since they
      // still hold the shared memory. One that lingers is ended the same way.
      const deadline = Date.now() + 10_000;
      while ([pid, ...children].some(alive)) {
        if (Date.now() > deadline) for (const child of children.filter(alive)) process.kill(child, 'SIGKILL');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    async start() {
      await pgCtl(['-o', options, '-l', join(dir, 'log'), '-w', '-t', '60', 'start']);
    },
    async stop() {
      await pgCtl(['-m', 'immediate', 'stop']).catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await cluster.start();
  return cluster;
}

function childPids(pid: number): number[] {
  const out = spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).stdout;
  return out.split('\n').filter(Boolean).map(Number);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
