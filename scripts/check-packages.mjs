#!/usr/bin/env node
// Checks every published package the way its users will meet it: publint for the package.json and its
// files, and @arethetypeswrong/cli for the types under every module resolution (node10, node16 CJS/ESM, bundler).
// Run after `npm run build`.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const packages = readdirSync(join(root, 'packages')).filter((name) => {
  try {
    return !JSON.parse(readFileSync(join(root, 'packages', name, 'package.json'), 'utf8')).private;
  } catch {
    return false;
  }
});

let failed = false;
for (const name of packages) {
  const dir = join(root, 'packages', name);
  for (const [tool, args] of [
    ['publint', ['publint', '--strict', dir]],
    ['attw', ['attw', '--pack', dir, '--profile', 'node16', '--format', 'table-flipped']],
  ]) {
    try {
      execFileSync('npx', ['--no-install', ...args], { stdio: 'pipe', cwd: root, encoding: 'utf8' });
      console.log(`check-packages: ${tool} ok for packages/${name}`);
    } catch (error) {
      failed = true;
      console.error(`check-packages: ${tool} FAILED for packages/${name}\n${error.stdout ?? ''}${error.stderr ?? ''}`);
    }
  }
}
process.exit(failed ? 1 : 0);
