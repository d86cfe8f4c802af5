import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, type RedisProcess, startRedis } from './redisServer.js';

const run = promisify(execFile);

/** The name the sentinels monitor the primary under. */
export const SENTINEL_MASTER_NAME = 'idem-primary';

/** A primary, its replica and three sentinels, each a private process on a free port. */
export interface SentinelSet {
  primary: RedisProcess;
  replica: RedisProcess;
  sentinels: Array<{ host: string; port: number; process: ChildProcess }>;
  /** Asks a sentinel which port serves as primary now. */
  currentPrimaryPort(): Promise<number>;
  stop(): Promise<void>;
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}.`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Starts `redis-server --sentinel` (what Debian's redis-sentinel is) with its own config file. */
async function startSentinel(dir: string, primaryPort: number, downAfterMs: number) {
  const port = await freePort();
  const conf = join(dir, `sentinel-${port}.conf`);
  writeFileSync(
    conf,
    [
      `port ${port}`,
      'bind 127.0.0.1',
      `dir ${dir}`,
      `sentinel monitor ${SENTINEL_MASTER_NAME} 127.0.0.1 ${primaryPort} 2`,
      `sentinel down-after-milliseconds ${SENTINEL_MASTER_NAME} ${downAfterMs}`,
      `sentinel failover-timeout ${SENTINEL_MASTER_NAME} 10000`,
      `sentinel parallel-syncs ${SENTINEL_MASTER_NAME} 1`,
      '',
    ].join('\n'),
  );
  const child = spawn('redis-server', [conf, '--sentinel'], { stdio: 'ignore' });
  await waitFor(`sentinel on ${port}`, async () => {
    const { stdout } = await run('redis-cli', ['-p', String(port), 'SENTINEL', 'MASTERS']);
    return stdout.includes(SENTINEL_MASTER_NAME);
  });
  return { host: '127.0.0.1', port, process: child };
}

/**
 * Starts a primary, a replica in sync with it, and three sentinels (quorum 2) that declare the primary
 * down after `downAfterMs` without an answer and promote the replica.
 */
export async function startSentinelSet(options: { downAfterMs?: number } = {}): Promise<SentinelSet> {
  const downAfterMs = options.downAfterMs ?? 1000;
  const dir = mkdtempSync(join(tmpdir(), 'trpc-idem-sentinel-'));
  const sync = ['--repl-diskless-sync-delay', '0'];
  const primary = await startRedis(sync);
  const replica = await startRedis([...sync, '--replicaof', '127.0.0.1', String(primary.port)]);
  const sentinels: SentinelSet['sentinels'] = [];
  const stop = async () => {
    await Promise.all(
      sentinels.map(
        ({ process }) =>
          new Promise<void>((resolve) => {
            if (process.exitCode !== null || process.signalCode !== null) return resolve();
            process.once('exit', () => resolve());
            process.kill('SIGKILL');
          }),
      ),
    );
    await Promise.all([primary.stop(), replica.stop()]);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor('the replica to sync', async () => {
      const { stdout } = await run('redis-cli', ['-p', String(replica.port), 'INFO', 'replication']);
      return stdout.includes('master_link_status:up');
    });
    for (let i = 0; i < 3; i++) sentinels.push(await startSentinel(dir, primary.port, downAfterMs));
    // Each sentinel must know the replica and the other two before a failover can be agreed on.
    await waitFor('the sentinels to find each other and the replica', async () => {
      for (const sentinel of sentinels) {
        const { stdout } = await run('redis-cli', [
          '-p',
          String(sentinel.port),
          'SENTINEL',
          'CKQUORUM',
          SENTINEL_MASTER_NAME,
        ]);
        if (!stdout.includes('OK 3 usable')) return false;
        const replicas = await run('redis-cli', [
          '-p',
          String(sentinel.port),
          'SENTINEL',
          'REPLICAS',
          SENTINEL_MASTER_NAME,
        ]);
        if (!replicas.stdout.includes(String(replica.port))) return false;
      }
      return true;
    });
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    primary,
    replica,
    sentinels,
    async currentPrimaryPort() {
      const { stdout } = await run('redis-cli', [
        '-p',
        String(sentinels[0]!.port),
        'SENTINEL',
        'GET-MASTER-ADDR-BY-NAME',
        SENTINEL_MASTER_NAME,
      ]);
      return Number(stdout.trim().split('\n')[1]);
    },
    stop,
  };
}
