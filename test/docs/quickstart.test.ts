import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * Runs the README's quickstart as written: its `server.ts` and `client.ts` blocks, copied byte for byte into a
 * folder inside the repository (so that they import the built packages through the workspace's node_modules, as
 * an app does), started with tsx. Only PORT is set, to a free port. The client's output must be what the README's
 * comments say it prints.
 */

const root = fileURLToPath(new URL('../../', import.meta.url));
const tsx = join(root, 'node_modules', '.bin', 'tsx');

function block(readme: string, file: string): string {
  const match = new RegExp(`^\`\`\`ts file=${file.replace('.', '\\.')}\\n([\\s\\S]*?)^\`\`\`$`, 'm').exec(readme);
  if (!match) throw new Error(`README.md has no \`\`\`ts file=${file} block`);
  return match[1]!;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

async function waitUntilServing(port: number, server: ChildProcess): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (server.exitCode !== null) throw new Error(`server.ts exited with ${server.exitCode}`);
    try {
      await fetch(`http://127.0.0.1:${port}/orderCount`);
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  throw new Error('server.ts did not listen within 20 s');
}

const dirs: string[] = [];
const servers: ChildProcess[] = [];
afterAll(() => {
  // tsx runs server.ts in a child process of its own: kill the whole group, or that child outlives the run.
  for (const server of servers) {
    try {
      process.kill(-server.pid!, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe("the README's quickstart", () => {
  it('runs as written: the order is placed once, the second call with its key is a replay', async () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    mkdirSync(join(root, 'test-output'), { recursive: true });
    const dir = mkdtempSync(join(root, 'test-output', 'quickstart-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'server.ts'), block(readme, 'server.ts'));
    writeFileSync(join(dir, 'client.ts'), block(readme, 'client.ts'));
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module', private: true }));

    const port = await freePort();
    const env = { ...process.env, PORT: String(port) };
    const server = spawn(tsx, ['server.ts'], { cwd: dir, env, stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    servers.push(server);
    let serverErrors = '';
    server.stderr!.on('data', (chunk) => {
      serverErrors += chunk;
    });
    await waitUntilServing(port, server);

    const { stdout } = await promisify(execFile)(tsx, ['client.ts'], { cwd: dir, env, timeout: 20_000 });
    expect(stdout.trim().split('\n')).toEqual(['order 1, replayed: true, orders: 1', 'true']);
    expect(serverErrors).toBe('');
  });
});
