import { type ChildProcess, fork } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AllocationSample } from './allocationSampler';
import type { ServerConfig, ServerReply, ServerRequest, ServerStats } from './serverMessages';

const here = dirname(fileURLToPath(import.meta.url));

/** A running server process and the way to talk to it. */
export interface ServerHandle {
  url: string;
  stats(): Promise<ServerStats>;
  openGate(): Promise<void>;
  /** Starts V8's sampling heap profiler in the server process (allocationSampler.ts). */
  startAllocationSampling(): Promise<void>;
  stopAllocationSampling(): Promise<AllocationSample>;
  stop(): Promise<void>;
}

/** Options of {@link startServer}. */
export interface StartServerOptions extends ServerConfig {
  /** Write a V8 CPU profile of the server process into this folder when it exits. */
  cpuProfileDir?: string;
}

/** Forks serverProcess.ts (through tsx) and waits until it listens. */
export async function startServer(options: StartServerOptions): Promise<ServerHandle> {
  const { cpuProfileDir, ...config } = options;
  const execArgv = ['--import', 'tsx'];
  if (cpuProfileDir) execArgv.push('--cpu-prof', `--cpu-prof-dir=${cpuProfileDir}`);
  const child = fork(join(here, 'serverProcess.ts'), [], {
    execArgv,
    env: {
      ...process.env,
      // As deployed: tRPC leaves stack traces out of error answers in production.
      NODE_ENV: 'production',
      BENCH_SERVER_CONFIG: JSON.stringify(config),
      TSX_TSCONFIG_PATH: join(here, '..', 'tsconfig.json'),
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`bench server exited early with code ${code}`));
    child.once('exit', onExit);
    child.once('message', (message: ServerReply) => {
      child.off('exit', onExit);
      if (message.type === 'ready') resolve(message.port);
      else reject(new Error(`bench server sent ${message.type} before ready`));
    });
  });
  return {
    url: `http://127.0.0.1:${port}`,
    stats: () => ask(child, { type: 'stats' }, 'stats') as Promise<ServerStats>,
    openGate: async () => {
      await ask(child, { type: 'openGate' }, 'gateOpened');
    },
    startAllocationSampling: async () => {
      await ask(child, { type: 'startAllocationSampling' }, 'allocationSamplingStarted');
    },
    stopAllocationSampling: async () => {
      const reply = await ask(child, { type: 'stopAllocationSampling' }, 'allocationSample');
      return (reply as Extract<ServerReply, { type: 'allocationSample' }>).sample;
    },
    stop: () => stopChild(child),
  };
}

function ask(child: ChildProcess, request: ServerRequest, replyType: ServerReply['type']): Promise<ServerReply> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: ServerReply) => {
      if (message.type !== replyType) return;
      child.off('message', onMessage);
      resolve(message);
    };
    child.on('message', onMessage);
    if (!child.send(request)) reject(new Error('bench server IPC channel is closed'));
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
    child.send({ type: 'exit' } satisfies ServerRequest);
  });
}
