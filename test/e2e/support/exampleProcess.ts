import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root and the example's folder. */
export const ROOT_DIR = fileURLToPath(new URL('../../../', import.meta.url));
export const EXAMPLE_DIR = fileURLToPath(new URL('../../../examples/react-node/', import.meta.url));

/** A running example server process. */
export interface ExampleProcess {
  url: string;
  /** What the process printed so far, for failure messages. */
  output(): string;
  /** Ends the server as `Ctrl-C` would (SIGTERM: it drains first). */
  stop(): Promise<void>;
  /** Ends the server at once, as a crash would (SIGKILL: nothing is drained or closed). */
  kill(): Promise<void>;
}

/** What `npm start` runs (the root package.json's start script), without npm around it. */
export const START_COMMAND = [process.execPath, '--import', 'tsx', 'examples/react-node/scripts/start.ts'] as const;

/**
 * Starts the example exactly as `npm start` does: the start script checks the port, builds what changed
 * (the page, on a fresh clone; one build at a time across test files), and runs the server as the demo in
 * production mode. On a free port unless `env.PORT` says; waits for the URL it prints. Its data goes to a
 * SQLite file of its own in a temporary directory (`npm start` uses examples/react-node/.data/), unless
 * `env.SQLITE_FILE` names one: a test that restarts the server passes the same file again.
 */
export async function startExampleProcess(env: Record<string, string> = {}): Promise<ExampleProcess> {
  const [command, ...args] = START_COMMAND;
  // A directory of its own is removed when the process ends; a file the caller named is the caller's.
  const ownDir = env.SQLITE_FILE === undefined ? mkdtempSync(join(tmpdir(), 'example-')) : undefined;
  const sqliteFile = env.SQLITE_FILE ?? join(ownDir!, 'payments.db');
  const child = spawn(command, args, {
    cwd: ROOT_DIR,
    env: { ...process.env, PORT: '0', SQLITE_FILE: sqliteFile, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (ownDir) child.once('exit', () => rmSync(ownDir, { recursive: true, force: true }));
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    // Room for a build of the page (and of the packages, if they are missing) on a busy machine.
    const timer = setTimeout(() => fail(new Error('timed out')), 150_000);
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
  return { url, output: () => output, stop: () => endChild(child, 'SIGTERM'), kill: () => endChild(child, 'SIGKILL') };
}

function endChild(child: ChildProcess, signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill(signal);
  });
}
