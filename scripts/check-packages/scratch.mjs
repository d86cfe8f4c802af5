// Installs the packed packages the way users get them: `npm pack`, then one scratch project per combination
// (see fixtures.mjs) in a temp folder outside the repository, so the workspace's node_modules cannot be found.
// In each: `tsc` over the code a user writes (strict, skipLibCheck false) under nodenext and bundler
// resolution, and `node -e` that imports and requires every entry point. Prints one line per combination.
import { existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { combinations, runtimeExports, typeScriptFiles } from './fixtures.mjs';
import { checkPackedFiles } from './manifest.mjs';
import { indent, kb, root, run, seconds } from './workspace.mjs';

// `npm run` exports npm_config_local_prefix=<repo>, npm_config_workspace and the like, which (like NODE_PATH)
// would point the scratch back here. Only the settings that say where packages come from are kept.
const KEPT_NPM_CONFIG =
  /^npm_config_(cache|registry|userconfig|globalconfig|cafile|strict_ssl|proxy|https_proxy|noproxy)$/i;
const env = Object.fromEntries(
  Object.entries(process.env).filter(
    ([name]) => KEPT_NPM_CONFIG.test(name) || !/^(npm_|INIT_CWD$|NODE_PATH$)/i.test(name),
  ),
);

/** Returns a list of problems. */
export async function checkScratchInstalls(packages) {
  const tmp = mkdtempSync(join(realpathSync(tmpdir()), 'trpc-idempotency-packages-'));
  const leak = leakingNodeModules(tmp);
  if (leak) return [`scratch folder ${tmp} would see ${leak}`];

  const packed = await run(
    'npm',
    ['pack', '--json', '--pack-destination', tmp, ...packages.flatMap((p) => ['-w', p.rel])],
    { env },
  );
  if (!packed.ok) return [`npm pack failed\n${indent(packed.output)}`];
  const entries = JSON.parse(packed.stdout);
  const tarballs = Object.fromEntries(entries.map((e) => [e.name, join(tmp, e.filename)]));
  const sizes = entries.map((e) => `${e.name} ${kb(e.size)} (${kb(e.unpackedSize)} unpacked, ${e.entryCount} files)`);
  console.log(`check-packages: npm pack: ${sizes.join(', ')}`);

  const results = await Promise.all(combinations().map((c) => checkCombination(c, tmp, tarballs)));
  const problems = [...checkPackedFiles(entries), ...results.flat()];
  if (problems.length === 0 && !process.env.CHECK_PACKAGES_KEEP) rmSync(tmp, { recursive: true, force: true });
  else console.log(`check-packages: scratch projects kept in ${tmp}`);
  return problems;
}

async function checkCombination(combination, tmp, tarballs) {
  const started = performance.now();
  const dir = join(tmp, combination.name.replace(/\W/g, '-'));
  mkdirSync(dir);
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify({ name: 'scratch', private: true }, null, 2)}\n`);
  const ours = combination.ours.map((folder) => tarballs[`@trpc-idempotency/${folder}`]);
  console.log(
    `check-packages: scratch ${combination.name} installs ${combination.ours.map((f) => `${f}.tgz`).join(', ')}, ${combination.peers.join(', ')}`,
  );

  const steps = [];
  const install = await run(
    'npm',
    [
      'install',
      '--no-audit',
      '--no-fund',
      '--prefer-offline',
      '--save-exact',
      '--loglevel=error',
      ...ours,
      ...combination.peers,
    ],
    { cwd: dir, env },
  );
  steps.push({ name: 'install', ...install });
  if (install.ok) {
    for (const [file, text] of Object.entries(typeScriptFiles(combination))) writeFileSync(join(dir, file), text);
    const tsc = join(dir, 'node_modules', 'typescript', 'bin', 'tsc');
    const expected = runtimeExports(combination);
    const [nodenext, bundler, esm, cjs] = await Promise.all([
      run('node', [tsc, '-p', 'tsconfig.nodenext.json'], { cwd: dir, env }),
      run('node', [tsc, '-p', 'tsconfig.bundler.json'], { cwd: dir, env }),
      run('node', ['--input-type=module', '-e', probe('await import(entry)', expected)], { cwd: dir, env }),
      run('node', ['-e', probe('require(entry)', expected)], { cwd: dir, env }),
    ]);
    steps.push(judgeTsc({ name: 'tsc nodenext', ...nodenext }), judgeTsc({ name: 'tsc bundler', ...bundler }));
    steps.push(...compareRuntime(expected, { name: 'node import', ...esm }, { name: 'node require', ...cjs }));
  }

  const failed = steps.filter((s) => !s.ok);
  const verdict = failed.length === 0 ? 'pass' : 'FAIL';
  const timings = steps.map((s) => `${s.name} ${seconds(s.ms)}${s.note ? ` [${s.note}]` : ''}`).join(', ');
  const line = `check-packages: scratch ${combination.name}: ${verdict} in ${seconds(performance.now() - started)} (${timings})`;
  if (failed.length === 0) {
    console.log(line);
    return [];
  }
  console.error(`${line}\n${failed.map((s) => `  ${s.name} failed:\n${indent(clip(s.output))}`).join('\n')}`);
  return failed.map((s) => `scratch ${combination.name}: ${s.name} failed`);
}

/**
 * tsc's errors in our code or in our packages' .d.ts fail the step. Errors inside other packages' own .d.ts
 * are not ours to fix and are only counted: under skipLibCheck false, @trpc/client 11's types want the DOM
 * library (RequestInfo) and @trpc/server's ws adapter types want `ws`, whatever the app imports.
 */
function judgeTsc(step) {
  if (step.ok) return step;
  const errors = step.output.split('\n').filter((line) => / error TS\d+:/.test(line));
  const elsewhere = new Set();
  const ours = errors.filter((line) => {
    const owner = /^node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(line)?.[1];
    if (owner === undefined || owner.startsWith('@trpc-idempotency/')) return true;
    elsewhere.add(owner);
    return false;
  });
  if (errors.length === 0 || ours.length > 0) return step;
  const note = `${errors.length} error(s) in the .d.ts of ${[...elsewhere].join(', ')} ignored`;
  return { ...step, ok: true, note };
}

/** A `node -e` program that loads each entry and prints its export names, or the first line of its error. */
function probe(load, expected) {
  return `const found = {};
for (const entry of ${JSON.stringify(Object.keys(expected))}) {
  try { found[entry] = Object.keys(${load}).sort(); }
  catch (error) { found[entry] = { error: String(error?.message ?? error).split('\\n')[0] }; }
}
console.log(JSON.stringify(found));`;
}

/** Turns the two probes' output into steps: each entry loads, has the expected exports, and the same names both ways. */
function compareRuntime(expected, esm, cjs) {
  const parsed = [esm, cjs].map((step) => {
    if (!step.ok) return step;
    const found = JSON.parse(step.stdout);
    const problems = [];
    for (const [entry, names] of Object.entries(expected)) {
      if (found[entry].error) problems.push(`${entry}: ${found[entry].error}`);
      else {
        const missing = names.filter((n) => !found[entry].includes(n));
        if (missing.length) problems.push(`${entry}: no export ${missing.join(', ')}`);
      }
    }
    return { ...step, found, ok: problems.length === 0, output: problems.join('\n') };
  });
  if (parsed.every((s) => s.ok)) {
    for (const entry of Object.keys(expected)) {
      const [a, b] = parsed.map((s) => s.found[entry].join(','));
      if (a !== b) Object.assign(parsed[1], { ok: false, output: `${entry}: require() exports differ from import()` });
    }
  }
  return parsed;
}

/** A node_modules folder in the temp folder's parents would let the scratch resolve what it did not install. */
function leakingNodeModules(tmp) {
  if (!relative(root, tmp).startsWith('..')) return `the repository (${root})`;
  for (let dir = dirname(tmp); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'node_modules'))) return join(dir, 'node_modules');
    if (dir === dirname(dir)) return undefined;
  }
}

const clip = (text, lines = 40) => {
  const all = text.split('\n');
  return all.length <= lines ? text : [...all.slice(0, lines), `... (${all.length - lines} more lines)`].join('\n');
};
