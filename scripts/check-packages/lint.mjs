// publint for each package.json and its files, and @arethetypeswrong/cli for the types under every module
// resolution (node10, node16 CJS/ESM, bundler). Returns one promise per tool and package.
import { join } from 'node:path';
import { indent, root, run, seconds } from './workspace.mjs';

const bin = (name) => join(root, 'node_modules', '.bin', name);

export function lintPackage(pkg) {
  return [
    ['publint', [bin('publint'), '--strict', pkg.dir]],
    ['attw', [bin('attw'), '--pack', pkg.dir, '--profile', 'node16', '--format', 'table-flipped']],
  ].map(async ([tool, [command, ...args]]) => {
    // In the background: the scratch installs are the longer path, so they go first.
    const result = await run(command, args, { background: true });
    if (result.ok) {
      console.log(`check-packages: ${tool} ${pkg.rel}: ok (${seconds(result.ms)})`);
      return [];
    }
    console.error(`check-packages: ${tool} ${pkg.rel}: FAILED\n${indent(result.output)}`);
    return [`${pkg.rel}: ${tool} failed`];
  });
}
