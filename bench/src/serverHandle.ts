import type { ChildProcess } from 'node:child_process';
import type { AllocationSample } from './allocationSampler';
import { askChild, forkBenchServer, stopChild } from './childServer';
import type { ServerConfig, ServerReply, ServerRequest, ServerStats } from './serverMessages';

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
  const { child, port } = await forkBenchServer('serverProcess.ts', {
    env: { BENCH_SERVER_CONFIG: JSON.stringify(config) },
    execArgv: cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfileDir}`] : [],
    name: 'bench server',
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
  return askChild<ServerReply>(child, request, replyType, 'bench server');
}
