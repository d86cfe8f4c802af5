import { type ChildProcess, fork } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** Every bench server process answers `ready` with its port first, and leaves on `exit`. */
type Reply = { type: string; port?: number };

/**
 * Forks one of bench/src's server scripts through tsx, as deployed (`NODE_ENV=production`: tRPC leaves stack
 * traces out of error answers), with `env` added, and waits for its `ready` message. `name` says which
 * server in errors.
 */
export async function forkBenchServer(
  script: string,
  options: { env: Record<string, string>; execArgv?: string[]; name: string },
): Promise<{ child: ChildProcess; port: number }> {
  const child = fork(join(here, script), [], {
    execArgv: ['--import', 'tsx', ...(options.execArgv ?? [])],
    env: {
      ...process.env,
      NODE_ENV: 'production',
      ...options.env,
      TSX_TSCONFIG_PATH: join(here, '..', 'tsconfig.json'),
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`${options.name} exited early with code ${code}`));
    child.once('exit', onExit);
    child.once('message', (message: Reply) => {
      child.off('exit', onExit);
      if (message.type === 'ready') resolve(message.port!);
      else reject(new Error(`${options.name} sent ${message.type} before ready`));
    });
  });
  return { child, port };
}

/** Sends `request` and resolves with the first reply of type `replyType`. */
export function askChild<TReply extends { type: string }>(
  child: ChildProcess,
  request: { type: string },
  replyType: TReply['type'],
  name: string,
): Promise<TReply> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: TReply) => {
      if (message.type !== replyType) return;
      child.off('message', onMessage);
      resolve(message);
    };
    child.on('message', onMessage);
    if (!child.send(request)) reject(new Error(`${name} IPC channel is closed`));
  });
}

/** Asks the server to exit, and kills it if it has not within 5 s. */
export function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.send({ type: 'exit' });
  });
}
