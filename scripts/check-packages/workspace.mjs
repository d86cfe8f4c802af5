// What the package checks share: the published packages of the workspace, a child-process runner that
// captures output and time, and a limit on how many such processes run at once (the machine has 2 cores).
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('../..', import.meta.url));

/** The non-private packages under packages/, each with its folder and package.json. */
export function publishedPackages() {
  const found = [];
  for (const folder of readdirSync(join(root, 'packages')).sort()) {
    const dir = join(root, 'packages', folder);
    let manifest;
    try {
      manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    } catch {
      continue;
    }
    if (!manifest.private) found.push({ folder, dir, rel: relative(root, dir), manifest });
  }
  return found;
}

/** `@scope/name/sub/path` → `@scope/name`, `name/sub` → `name`. */
export function packageNameOf(specifier) {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

export const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;
export const kb = (bytes) => `${(bytes / 1024).toFixed(1)} KB`;

let running = 0;
const waiting = { foreground: [], background: [] };
const slots = Math.max(2, availableParallelism());

/** Runs `task` when one of the slots is free; background tasks wait until no foreground task is waiting. */
async function withSlot(task, background) {
  if (running < slots) running++;
  else await new Promise((resolve) => waiting[background ? 'background' : 'foreground'].push(resolve));
  try {
    return await task();
  } finally {
    // The slot passes straight to the next waiting task, if any.
    const next = waiting.foreground.shift() ?? waiting.background.shift();
    if (next) next();
    else running--;
  }
}

/**
 * Runs a command without a shell. Resolves (never rejects) with `{ ok, code, stdout, output, ms }`; `output`
 * is stdout and stderr together. At most as many commands as cores run at once; `background` ones yield.
 */
export function run(command, args, { cwd = root, env = process.env, timeoutMs = 120_000, background = false } = {}) {
  return withSlot(
    () =>
      new Promise((resolve) => {
        const started = performance.now();
        const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
        let output = '';
        let stdout = '';
        child.stdout.on('data', (chunk) => {
          stdout += chunk;
          output += chunk;
        });
        child.stderr.on('data', (chunk) => {
          output += chunk;
        });
        const timer = setTimeout(() => {
          output += `\n(killed after ${seconds(timeoutMs)})`;
          child.kill('SIGKILL');
        }, timeoutMs);
        const finish = (code) => {
          clearTimeout(timer);
          resolve({ ok: code === 0, code, stdout, output: output.trim(), ms: performance.now() - started });
        };
        child.on('error', (error) => {
          output += String(error);
          finish(-1);
        });
        child.on('close', finish);
      }),
    background,
  );
}

/** Indents a block of tool output under a result line. */
export function indent(text, prefix = '    ') {
  return text
    .split('\n')
    .map((line) => prefix + line)
    .join('\n');
}
