#!/usr/bin/env node
// `npm run test:compat`: the packed packages against several tRPC 11 releases, as users install them.
//  1. `npm run build` of those three packages, then `npm pack` of protocol, server and client into a temp folder outside the repository.
//  2. For each release (11.0.0, 11.10.0, the version pinned in package.json, the newest 11.x the registry serves),
//     a scratch project with the tarballs, @trpc/server and @trpc/client at that release, superjson and zod;
//     the one whose release @trpc/tanstack-react-query's newest peers ask for also gets it, with
//     @tanstack/react-query and react.
//  3. In each, `node --test` over test/compat/core.test.mjs (and tanstack.test.mjs where installed).
// Prints one line per release with its pass/fail counts and time; exits 1 on any failure.
// Options: --no-build (use the dist already built, as .ci/run does after `npm test`), --keep (keep the scratch projects; kept anyway on failure),
// --versions=11.0.0,11.4.0 (these releases instead of the default four).
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { indent, root, run, seconds } from '../check-packages/workspace.mjs';

const started = performance.now();
const args = process.argv.slice(2);
const flag = (name) => args.includes(`--${name}`);
const option = (name) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const keep = flag('keep') || Boolean(process.env.COMPAT_KEEP);

/** The packages a user installs (their folders under packages/). */
const PUBLISHED = ['protocol', 'server', 'client'];
const SUITE = join(root, 'test', 'compat');

// `npm run` exports npm_config_local_prefix=<repo>, npm_config_workspace and the like, which (like NODE_PATH)
// would point a scratch project back here. Only the settings that say where packages come from are kept.
const KEPT_NPM_CONFIG =
  /^npm_config_(cache|registry|userconfig|globalconfig|cafile|strict_ssl|proxy|https_proxy|noproxy)$/i;
const env = Object.fromEntries(
  Object.entries(process.env).filter(
    ([name]) => KEPT_NPM_CONFIG.test(name) || !/^(npm_|INIT_CWD$|NODE_PATH$|NODE_OPTIONS$)/i.test(name),
  ),
);

const fail = (message, output) => {
  console.error(`compat: ${message}${output ? `\n${indent(clip(output))}` : ''}`);
  process.exit(1);
};

const rootManifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const devRange = (name) => rootManifest.devDependencies?.[name] ?? fail(`no devDependency ${name} in package.json`);

if (!flag('no-build')) {
  // Only what is packed: the other workspaces cannot change the result.
  const workspaces = PUBLISHED.flatMap((folder) => ['-w', `packages/${folder}`]);
  const build = await run('npm', ['run', 'build', ...workspaces], { timeoutMs: 300_000 });
  if (!build.ok) fail(`npm run build failed (${seconds(build.ms)})`, build.output.split('\n').slice(-40).join('\n'));
  console.log(`compat: npm run build of ${PUBLISHED.join(', ')} ${seconds(build.ms)}`);
}

// What to test against; the registry is asked once per package.
const view = async (spec, field) => {
  const answer = await run('npm', ['view', '--json', spec, field], { env, timeoutMs: 60_000 });
  if (!answer.ok) fail(`npm view ${spec} ${field} failed`, answer.output);
  return JSON.parse(answer.stdout);
};
// The newest release the packages' peer range admits: a newer 11.x is reported, and the range widened by hand
// once it is tested, so that CI does not turn red the day tRPC publishes.
const serverPeerRange = JSON.parse(readFileSync(join(root, 'packages', 'server', 'package.json'), 'utf8'))
  .peerDependencies['@trpc/server'];
const [releases11, releasesInRange, tanstackPeers] = await Promise.all([
  view('@trpc/server@^11', 'version'),
  view(`@trpc/server@${serverPeerRange}`, 'version'),
  view('@trpc/tanstack-react-query@latest', 'peerDependencies'),
]);
const tanstackVersion = await view('@trpc/tanstack-react-query@latest', 'version');
// npm view lists versions in publication order, not semver order: sort them.
const byVersion = (a, b) => {
  const [x, y] = [a, b].map((v) => v.split(/[.-]/).map((part) => (/^\d+$/.test(part) ? Number(part) : part)));
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i] - y[i];
  return 0;
};
const stable = (list) =>
  [list]
    .flat()
    .filter((v) => /^\d+\.\d+\.\d+$/.test(v))
    .sort(byVersion);
const newestOnRegistry = stable(releases11).at(-1);
const newest = stable(releasesInRange).at(-1);
if (newestOnRegistry !== newest) {
  console.log(
    `compat: note: tRPC ${newestOnRegistry} is out, beyond the peer range ${serverPeerRange}: test it (--versions=${newestOnRegistry}), then widen the range`,
  );
}
const pinned = devRange('@trpc/server');
const versions = [...new Set(option('versions')?.split(',') ?? ['11.0.0', '11.10.0', pinned, newest])];
// @trpc/tanstack-react-query pins its @trpc peers exactly: its check goes with that release (or the pinned one).
const tanstackPeer = tanstackPeers['@trpc/server'];
const tanstackHost = /^\d+\.\d+\.\d+$/.test(tanstackPeer) ? tanstackPeer : pinned;
if (!option('versions') && !versions.includes(tanstackHost)) versions.push(tanstackHost);
console.log(
  `compat: tRPC ${versions.join(', ')} (pinned ${pinned}, newest 11.x ${newest}); @trpc/tanstack-react-query ${tanstackVersion} with ${tanstackHost}`,
);

const tmp = mkdtempSync(join(realpathSync(tmpdir()), 'trpc-idempotency-compat-'));
const leak = leakingNodeModules(tmp);
if (leak) fail(`scratch folder ${tmp} would see ${leak}`);

const packed = await run(
  'npm',
  ['pack', '--json', '--pack-destination', tmp, ...PUBLISHED.flatMap((folder) => ['-w', `packages/${folder}`])],
  { env },
);
if (!packed.ok) fail('npm pack failed', packed.output);
const tarballs = Object.fromEntries(JSON.parse(packed.stdout).map((e) => [e.name, `file:${join(tmp, e.filename)}`]));

const results = await Promise.all(versions.map((version) => checkRelease(version)));
const failed = results.filter((r) => !r.ok);
const total = seconds(performance.now() - started);
if (failed.length === 0) {
  console.log(`compat: all ${results.length} releases passed in ${total}`);
  if (!keep) rmSync(tmp, { recursive: true, force: true });
} else {
  console.error(
    `compat: ${failed.length} of ${results.length} releases failed in ${total}; scratch projects in ${tmp}`,
  );
  process.exitCode = 1;
}
if (keep && failed.length === 0) console.log(`compat: scratch projects kept in ${tmp}`);

/** Installs one scratch project and runs the suite in it; prints its line, resolves with `{ ok }`. */
async function checkRelease(version) {
  const releaseStarted = performance.now();
  const withTanstack = version === tanstackHost;
  const dir = join(tmp, `trpc-${version}`);
  mkdirSync(join(dir, 'test'), { recursive: true });
  const dependencies = {
    ...tarballs,
    '@trpc/server': version,
    '@trpc/client': version,
    superjson: devRange('superjson'),
    zod: devRange('zod'),
    ...(withTanstack
      ? {
          '@trpc/tanstack-react-query': tanstackVersion,
          '@tanstack/react-query': devRange('@tanstack/react-query'),
          react: JSON.parse(readFileSync(join(root, 'packages', 'client', 'package.json'), 'utf8')).devDependencies
            .react,
        }
      : {}),
  };
  const manifest = { name: `compat-trpc-${version}`, private: true, type: 'module', dependencies };
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  const files = readdirSync(SUITE).filter((f) => f.endsWith('.mjs'));
  for (const file of files) copyFileSync(join(SUITE, file), join(dir, 'test', file));
  const suites = files.filter((f) => f === 'core.test.mjs' || (withTanstack && f === 'tanstack.test.mjs'));
  const label = `tRPC ${version}${withTanstack ? ` + tanstack-react-query ${tanstackVersion}` : ''}`;

  const install = await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], {
    cwd: dir,
    env,
    timeoutMs: 180_000,
  });
  if (!install.ok) {
    const hint = /ERESOLVE/.test(install.output)
      ? ' (a peer range refuses this release: test it, then widen the range)'
      : '';
    console.error(
      `compat: ${label}: FAIL, npm install failed in ${seconds(install.ms)}${hint}\n${indent(clip(install.output))}`,
    );
    return { ok: false };
  }
  const installed = JSON.parse(readFileSync(join(dir, 'node_modules', '@trpc', 'server', 'package.json'), 'utf8'));
  if (installed.version !== version) {
    console.error(`compat: ${label}: FAIL, npm installed @trpc/server ${installed.version}`);
    return { ok: false };
  }

  const tests = await run('node', ['--test', '--test-reporter=spec', ...suites.map((f) => join('test', f))], {
    cwd: dir,
    env,
    timeoutMs: 120_000,
  });
  const countOf = (name) => Number(new RegExp(`^ℹ ${name} (\\d+)$`, 'm').exec(tests.stdout)?.[1] ?? 0);
  const passed = countOf('pass');
  // A run that ended badly without a failed test (a crash, a timeout) counts as one failure.
  const failures = countOf('fail') || (tests.ok ? 0 : 1);
  const ok = tests.ok && failures === 0 && passed > 0;
  const line = `compat: ${label}: ${ok ? 'pass' : 'FAIL'}, ${passed} passed, ${failures} failed in ${seconds(performance.now() - releaseStarted)} (install ${seconds(install.ms)}, tests ${seconds(tests.ms)})`;
  if (ok) console.log(line);
  else console.error(`${line}\n${indent(clip(failureReport(tests.output), 80))}`);
  return { ok };
}

/** The spec reporter's account of the failures (the part after "failing tests"), or all of it. */
function failureReport(output) {
  const at = output.indexOf('✖ failing tests:');
  return at === -1 ? output : output.slice(at);
}

/** A node_modules folder in the temp folder's parents would let a scratch project resolve what it did not install. */
function leakingNodeModules(folder) {
  if (!relative(root, folder).startsWith('..')) return `the repository (${root})`;
  for (let dir = dirname(folder); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'node_modules'))) return join(dir, 'node_modules');
    if (dir === dirname(dir)) return undefined;
  }
}

function clip(text, lines = 40) {
  const all = text.split('\n');
  return all.length <= lines ? text : [...all.slice(0, lines), `... (${all.length - lines} more lines)`].join('\n');
}
