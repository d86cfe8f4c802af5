import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ServerConfig, ServerStats } from './serverConfig.js';

const SERVER_SCRIPT = fileURLToPath(new URL('./server.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../..', import.meta.url));

/** A reliability server running in its own Node process. */
export interface ServerProcess {
  url: string;
  pid: number;
  process: ChildProcess;
  /** Everything it wrote to stderr: unhandled rejections and 500s are logged there. */
  stderr(): string;
  /** Everything it wrote to stdout: `LISTENING <port>`, and `DRAINED <report>` after a drain. */
  stdout(): string;
  /** GET /__stats: after a forced GC (with `exposeGc`), unless `gc: false`, which a frequent poll wants. */
  stats(options?: { gc?: boolean }): Promise<ServerStats>;
  /** Sends a signal: SIGKILL for a crash, SIGSTOP/SIGCONT for a pause. */
  signal(signal: NodeJS.Signals): void;
  /** Waits until the process has exited. */
  exited(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts one server process (node + tsx, against the packages' source) and waits until it listens. */
export async function spawnServer(config: ServerConfig, options: { exposeGc?: boolean } = {}): Promise<ServerProcess> {
  const args = ['--import', 'tsx', ...(options.exposeGc ? ['--expose-gc'] : []), SERVER_SCRIPT];
  const child = spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    env: { ...process.env, RELIABILITY_SERVER: JSON.stringify(config) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk) => {
    stderr += chunk;
  });
  let stdout = '';
  child.stdout?.on('data', (chunk) => {
    stdout += chunk;
  });
  const exit = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start within 60 s: ${stderr}`)), 60_000);
    child.stdout?.on('data', () => {
      const match = /LISTENING (\d+)/.exec(stdout);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`server exited before listening (${code ?? signal}): ${stderr}`));
    });
  });
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    pid: child.pid!,
    process: child,
    stderr: () => stderr,
    stdout: () => stdout,
    async stats(options = {}) {
      const response = await fetch(`${url}/__stats${options.gc === false ? '?gc=0' : ''}`);
      return (await response.json()) as ServerStats;
    },
    signal(signal) {
      child.kill(signal);
    },
    exited: () => exit,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGCONT');
      child.kill('SIGKILL');
      await exit;
    },
  };
}

/** Starts `count` server processes with the same settings. */
export function spawnServers(count: number, config: ServerConfig): Promise<ServerProcess[]> {
  return Promise.all(Array.from({ length: count }, () => spawnServer(config)));
}
