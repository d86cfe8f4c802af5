import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// What `npm start` runs: check the port, build only what changed since the last build, then start the
// server as the demo, in production mode (no stack traces in error answers). Every failure ends with
// one plain message; `npm start` runs this file directly, so npm adds no error lines of its own.

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const EXAMPLE = fileURLToPath(new URL('../', import.meta.url));

/** One thing to build: stale when a file under `inputs` is newer than the oldest of `outputs`' files. */
interface Target {
  name: string;
  inputs: string[];
  /** Files (or folders, every file inside) the build writes anew each time. */
  outputs: string[];
  command: [string, ...string[]];
  cwd: string;
}

const packageTarget = (name: string): Target => ({
  name: `@trpc-idempotency/${name}`,
  inputs: [
    `packages/${name}/src`,
    `packages/${name}/package.json`,
    `packages/${name}/tsup.config.ts`,
    'tsconfig.base.json',
  ],
  outputs: [`packages/${name}/dist`],
  command: ['npm', 'run', 'build', '--silent', '-w', `@trpc-idempotency/${name}`],
  cwd: ROOT,
});

/** In build order: the server runs the postgres package, which imports the server package; the page bundles the client, which imports the protocol. */
const TARGETS: Target[] = [
  packageTarget('protocol'),
  packageTarget('server'),
  packageTarget('postgres'),
  packageTarget('client'),
  {
    name: 'the page (web/dist)',
    inputs: [
      'examples/react-node/web',
      'examples/react-node/package.json',
      'packages/client/dist',
      'packages/protocol/dist',
    ],
    // Vite copies web/public with the files' old times, so only the page it writes itself counts.
    outputs: ['examples/react-node/web/dist/index.html'],
    command: [process.execPath, join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', 'web', '--logLevel', 'warn'],
    cwd: EXAMPLE,
  },
];

/** Newest and oldest modification time of the files under `paths` (dist and node_modules folders inside them left out). */
function mtimes(paths: string[]): { newest: number; oldest: number; files: number } {
  const found = { newest: 0, oldest: Number.POSITIVE_INFINITY, files: 0 };
  const visit = (path: string) => {
    let stat: ReturnType<typeof statSync>;
    try {
      stat = statSync(path);
    } catch {
      return;
    }
    if (stat.isDirectory()) {
      for (const entry of readdirSync(path)) {
        if (entry !== 'node_modules' && entry !== 'dist') visit(join(path, entry));
      }
      return;
    }
    found.files++;
    found.newest = Math.max(found.newest, stat.mtimeMs);
    found.oldest = Math.min(found.oldest, stat.mtimeMs);
  };
  for (const path of paths) visit(join(ROOT, path));
  return found;
}

/** Why a target needs building, or null when it is up to date. */
function staleness(target: Target): string | null {
  const outputs = mtimes(target.outputs);
  if (outputs.files === 0) return 'not built yet';
  return mtimes(target.inputs).newest > outputs.oldest ? 'its sources changed' : null;
}

function run([command, ...args]: Target['command'], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    // Production builds whatever NODE_ENV the caller has (a test runner sets "test"; Vite would then bundle
    // React's development build).
    const env = { ...process.env, NODE_ENV: 'production' };
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.once('error', reject);
    child.once('exit', (code, signal) =>
      code === 0 ? resolve() : reject(new Error(`${output.trim()}\n(${command} ended with ${signal ?? code})`)),
    );
  });
}

const LOCK = join(ROOT, 'node_modules/.cache/trpc-idempotency-example/build.lock');
const STALE_LOCK_MS = 5 * 60_000;

/** One build at a time (two test files may start the example at once); a lock whose owner died is taken over. */
async function withBuildLock(build: () => Promise<void>): Promise<void> {
  mkdirSync(join(LOCK, '..'), { recursive: true });
  let told = false;
  for (;;) {
    try {
      mkdirSync(LOCK);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      if (lockIsAbandoned()) {
        rmSync(LOCK, { recursive: true, force: true });
        continue;
      }
      if (!told) console.log('Waiting for another build of the example to finish…');
      told = true;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  try {
    writeFileSync(join(LOCK, 'pid'), String(process.pid));
    await build();
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}

function lockIsAbandoned(): boolean {
  try {
    if (Date.now() - statSync(LOCK).mtimeMs > STALE_LOCK_MS) return true;
    const pid = Number(readFileSync(join(LOCK, 'pid'), 'utf8'));
    if (!pid) return false;
    process.kill(pid, 0);
    return false;
  } catch (error) {
    // No pid file yet means the owner is about to write it; a pid that does not exist means it died.
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

async function buildWhatChanged(): Promise<void> {
  let built = 0;
  for (const target of TARGETS) {
    const reason = staleness(target);
    if (!reason) continue;
    const started = performance.now();
    console.log(`Building ${target.name} (${reason})…`);
    await run(target.command, target.cwd);
    console.log(`  done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    built++;
  }
  if (built === 0) console.log('Packages and page are up to date.');
}

/** Whether nothing listens on the port yet. */
function portIsFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (error: NodeJS.ErrnoException) =>
      error.code === 'EADDRINUSE' ? resolve(false) : reject(error),
    );
    probe.listen(port, host, () => probe.close(() => resolve(true)));
  });
}

const port = Number(process.env.PORT ?? 3000);
const host = process.env.HOST ?? '127.0.0.1';
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
  console.error(`PORT must be a port number, got "${process.env.PORT}".`);
  process.exit(1);
}
try {
  if (port !== 0 && !(await portIsFree(port, host))) {
    console.error(`Port ${port} is in use. Start on another one: PORT=${port + 1} npm start`);
    process.exit(1);
  }
  await withBuildLock(buildWhatChanged);
} catch (error) {
  console.error(`npm start could not get the example ready: ${(error as Error).message}`);
  process.exit(1);
}

process.env.NODE_ENV = 'production';
process.env.TRPC_IDEMPOTENCY_DEMO = '1';
await import('../server/src/main.js');
