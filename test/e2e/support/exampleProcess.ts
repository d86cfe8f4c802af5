import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The repository root and the example's folder. */
export const ROOT_DIR = fileURLToPath(new URL('../../../', import.meta.url));
export const EXAMPLE_DIR = fileURLToPath(new URL('../../../examples/react-node/', import.meta.url));

const PACKAGE_BUILDS = [
  'packages/protocol/dist/index.js',
  'packages/server/dist/index.js',
  'packages/client/dist/index.js',
  'packages/client/dist/react/index.js',
];

/** Runs a command to its end within `timeoutMs`; a failure carries the command's output. */
function run(command: string, args: string[], cwd: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`${command} ${args.join(' ')} ended with ${signal ?? code}:\n${output}`));
    });
  });
}

/**
 * Builds what `npm start` builds: the packages (only when their dist is missing, since the root
 * `npm test` has just built them) and the web app, which the example server serves from web/dist.
 */
export async function buildExample(): Promise<void> {
  if (!PACKAGE_BUILDS.every((path) => existsSync(`${ROOT_DIR}${path}`))) {
    await run('npm', ['run', 'build'], ROOT_DIR, 120_000);
  }
  await run(
    process.execPath,
    [`${ROOT_DIR}node_modules/vite/bin/vite.js`, 'build', 'web', '--logLevel', 'warn'],
    EXAMPLE_DIR,
    60_000,
  );
}

/** A running example server process. */
export interface ExampleProcess {
  url: string;
  /** What the process printed so far, for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

/**
 * Starts the example server the way `npm start` does after its build (tsx on server/src/main.ts),
 * on a free port, and waits for the URL it prints.
 */
export async function startExampleProcess(env: Record<string, string> = {}): Promise<ExampleProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/src/main.ts'], {
    cwd: EXAMPLE_DIR,
    env: { ...process.env, PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error('timed out')), 30_000);
    const fail = (error: Error) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`The example server did not start (${error.message}):\n${output}`));
    };
    const onData = (chunk: Buffer) => {
      output += chunk;
      const match = /running at (http:\/\/\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        // Loopback by address: "localhost" may resolve to ::1 first, where the server does not listen.
        resolve(match[1]!.replace('//localhost:', '//127.0.0.1:'));
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('error', fail);
    child.once('exit', (code, signal) => fail(new Error(`exited with ${signal ?? code}`)));
  });
  return { url, output: () => output, stop: () => stopChild(child) };
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
