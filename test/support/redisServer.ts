import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A private redis-server that a test started and must stop. */
export interface RedisProcess {
  port: number;
  url: string;
  dir: string;
  process: ChildProcess;
  stop(): Promise<void>;
  /** Starts the same server again on the same port and data folder, after a stop or a crash. */
  restart(): Promise<void>;
}

/** Tells whether a redis-server binary is on the PATH. */
export function hasRedisServer(): boolean {
  const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  return !probe.error && probe.status === 0;
}

/** Fails with an install hint when there is no redis-server to start. */
export function assertRedisServerInstalled(): void {
  if (!hasRedisServer()) {
    throw new Error(
      'redis-server was not found. Install it (Debian/Ubuntu: `apt-get install -y redis-server`, macOS: `brew install redis`) ' +
        'or point REDIS_URL at a Redis you run yourself.',
    );
  }
}

/** Finds a free TCP port on loopback whose cluster bus port (port + 10000) is free too. */
export async function freePort(options: { withBusPort?: boolean } = {}): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await listenOnce(0);
    if (!options.withBusPort || port + 10000 > 65535) {
      if (!options.withBusPort) return port;
      continue;
    }
    if (await isFree(port + 10000)) return port;
  }
  throw new Error('No free port pair found.');
}

function listenOnce(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

async function isFree(port: number): Promise<boolean> {
  try {
    await listenOnce(port);
    return true;
  } catch {
    return false;
  }
}

/** Starts redis-server on a free port with nothing saved to disk unless `args` asks for it. */
export async function startRedis(args: string[] = [], options: { withBusPort?: boolean } = {}): Promise<RedisProcess> {
  assertRedisServerInstalled();
  const port = await freePort(options);
  const dir = mkdtempSync(join(tmpdir(), `trpc-idem-redis-${port}-`));
  const argv = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
    '--appendonly',
    'no',
    '--enable-debug-command',
    'local',
    ...args,
  ];
  const handle: RedisProcess = {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    process: undefined as unknown as ChildProcess,
    async stop() {
      await stopProcess(handle.process);
    },
    async restart() {
      await stopProcess(handle.process);
      handle.process = await launch(argv, port);
    },
  };
  handle.process = await launch(argv, port);
  return handle;
}

async function launch(argv: string[], port: number): Promise<ChildProcess> {
  const child = spawn('redis-server', argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    output += chunk;
  });
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`redis-server on port ${port} exited: ${output}`);
    try {
      const { stdout } = await run('redis-cli', ['-p', String(port), 'INFO', 'server']);
      // Only our own child counts: after a restart, another test may have taken the port meanwhile.
      if (new RegExp(`process_id:${child.pid}\\s`).test(stdout)) return child;
    } catch {
      // not up yet
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  child.kill('SIGKILL');
  throw new Error(`redis-server on port ${port} did not start: ${output}`);
}

function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

/** A throwaway Redis Cluster of `masters` masters and `replicasPerMaster` replicas each. */
export interface RedisClusterProcess {
  nodes: RedisProcess[];
  /** `host:port` of every node, for ioredis's `Cluster`. */
  startupNodes: Array<{ host: string; port: number }>;
  stop(): Promise<void>;
}

/** Builds a cluster from fresh redis-server processes and waits until every node says `cluster_state:ok`. */
export async function startRedisCluster(masters = 3, replicasPerMaster = 0): Promise<RedisClusterProcess> {
  const nodes: RedisProcess[] = [];
  try {
    for (let i = 0; i < masters * (1 + replicasPerMaster); i++) {
      // --dir is private to each node, so a relative nodes.conf never collides.
      const node = await startRedis(
        [
          '--cluster-enabled',
          'yes',
          '--cluster-node-timeout',
          '2000',
          '--cluster-config-file',
          'nodes.conf',
          // A replica syncs at once instead of after the default 5 s wait for more replicas.
          '--repl-diskless-sync-delay',
          '0',
        ],
        { withBusPort: true },
      );
      nodes.push(node);
    }
    await run('redis-cli', [
      '--cluster',
      'create',
      ...nodes.map((node) => `127.0.0.1:${node.port}`),
      '--cluster-replicas',
      String(replicasPerMaster),
      '--cluster-yes',
    ]);
    const deadline = Date.now() + 20_000;
    for (const node of nodes) {
      while (true) {
        const { stdout } = await run('redis-cli', ['-p', String(node.port), 'CLUSTER', 'INFO']);
        if (stdout.includes('cluster_state:ok')) break;
        if (Date.now() > deadline) throw new Error(`cluster node ${node.port} never reached cluster_state:ok`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    // A replica that never synced refuses to be promoted (its data counts as too old), so a failover
    // test needs every replica's link up before it starts.
    for (const node of nodes) {
      while (true) {
        const { stdout } = await run('redis-cli', ['-p', String(node.port), 'INFO', 'replication']);
        if (stdout.includes('role:master') || stdout.includes('master_link_status:up')) break;
        if (Date.now() > deadline) throw new Error(`cluster replica ${node.port} never synced with its master`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  } catch (error) {
    await Promise.all(nodes.map((node) => node.stop()));
    throw error;
  }
  return {
    nodes,
    startupNodes: nodes.map((node) => ({ host: '127.0.0.1', port: node.port })),
    async stop() {
      await Promise.all(nodes.map((node) => node.stop()));
      for (const node of nodes) rmSync(node.dir, { recursive: true, force: true });
    },
  };
}
