// Checks each package's built dist against its package.json: the size of the ESM build against the budget,
// that every bare import or require (in .js, .cjs and the .d.ts/.d.cts files) is a declared dependency or peer
// and every declared one is imported, that the source maps list only the package's own src (nothing bundled),
// and that a dependency on another workspace package asks for that package's current version.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';
import { kb, packageNameOf } from './workspace.mjs';

// Every ESM file of a package's dist counts, all entry points together. The budget catches something bundled by
// mistake, and keeps what an app loads small: the server and client builds are minified (names kept) to stay in it.
// 56 KB since issues 20 and 21 (keys per batch and in-band, full-store refusals, waiting woken by the store: the
// server's build went from 40.8 KB to 50.7 KB); it was 44 KB after the speed work of issue 12.
export const ESM_BUDGET_BYTES = 56 * 1024;

/** Returns a list of problems (strings); prints one size line per package. */
export function checkDist(pkg, workspacePackages) {
  const problems = [];
  const distDir = join(pkg.dir, 'dist');
  const files = filesUnder(distDir);

  const size = (test) => files.filter(test).reduce((sum, file) => sum + statSync(file).size, 0);
  const esm = size((f) => f.endsWith('.js'));
  const cjs = size((f) => f.endsWith('.cjs'));
  const types = size((f) => f.endsWith('.d.ts'));
  const verdict = esm < ESM_BUDGET_BYTES ? 'ok' : 'OVER BUDGET';
  console.log(
    `check-packages: size ${pkg.rel}: ESM ${kb(esm)} (budget ${kb(ESM_BUDGET_BYTES)}, ${verdict}), CJS ${kb(cjs)}, .d.ts ${kb(types)}`,
  );
  if (esm >= ESM_BUDGET_BYTES) problems.push(`ESM dist is ${kb(esm)}, over the ${kb(ESM_BUDGET_BYTES)} budget`);

  problems.push(
    ...checkImports(pkg, files),
    ...checkSourceMaps(pkg, files),
    ...checkWorkspaceRanges(pkg, workspacePackages),
  );
  return problems;
}

function checkImports(pkg, files) {
  const problems = [];
  const declared = new Set([
    ...Object.keys(pkg.manifest.dependencies ?? {}),
    ...Object.keys(pkg.manifest.peerDependencies ?? {}),
  ]);
  const code = files.filter((f) => /\.(c?js|d\.c?ts)$/.test(f));
  const imported = bareImports(code); // package name → files
  for (const [name, where] of imported) {
    if (declared.has(name) || name === pkg.manifest.name) continue;
    const sources = bareImports(filesUnder(join(pkg.dir, 'src')).filter((f) => /\.tsx?$/.test(f))).get(name) ?? [];
    problems.push(
      `imports '${name}', which package.json declares in neither dependencies nor peerDependencies\n` +
        `      in dist: ${where.map((f) => relative(pkg.dir, f)).join(', ')}\n` +
        `      from src: ${sources.map((f) => relative(pkg.dir, f)).join(', ') || '(not found in src)'}`,
    );
  }
  // An optional peer names a library the user may bring and its supported versions (ioredis for
  // RedisStore, which types it structurally), so it need not be imported.
  const optionalPeers = Object.entries(pkg.manifest.peerDependenciesMeta ?? {}).filter(([, meta]) => meta?.optional);
  const mayBeUnused = new Set(optionalPeers.map(([name]) => name));
  for (const name of declared) {
    if (!imported.has(name) && !mayBeUnused.has(name)) problems.push(`declares '${name}' but dist never imports it`);
  }
  return problems;
}

/** Maps each bare (package) specifier's package name to the files importing it; Node built-ins are left out. */
function bareImports(files) {
  const found = new Map();
  for (const file of files) {
    const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    for (const { fileName: specifier } of importedFiles) {
      if (/^[./]/.test(specifier) || isBuiltin(specifier)) continue;
      const name = packageNameOf(specifier);
      const list = found.get(name) ?? [];
      if (!list.includes(file)) list.push(file);
      found.set(name, list);
    }
  }
  return found;
}

/** Every source a map lists must be the package's own src: anything else was bundled in. */
function checkSourceMaps(pkg, files) {
  const src = join(pkg.dir, 'src') + sep;
  const bundled = new Map(); // package name (or path) → files
  for (const map of files.filter((f) => f.endsWith('.map'))) {
    for (const source of JSON.parse(readFileSync(map, 'utf8')).sources ?? []) {
      const file = resolve(dirname(map), source);
      if (file.startsWith(src)) continue;
      const owner = /[/\\]node_modules[/\\]((?:@[^/\\]+[/\\])?[^/\\]+)/.exec(file)?.[1] ?? relative(pkg.dir, file);
      bundled.set(owner, (bundled.get(owner) ?? new Set()).add(file));
    }
  }
  return [...bundled].map(
    ([owner, set]) => `bundles ${set.size} file(s) of ${owner} into dist (its source maps list them)`,
  );
}

/** A dependency on a workspace package must be `^<its version>`, so the packed package finds the published one. */
function checkWorkspaceRanges(pkg, workspacePackages) {
  const problems = [];
  for (const field of ['dependencies', 'peerDependencies']) {
    for (const [name, range] of Object.entries(pkg.manifest[field] ?? {})) {
      const sibling = workspacePackages.find((p) => p.manifest.name === name);
      if (sibling && range !== `^${sibling.manifest.version}`) {
        problems.push(`${field}.${name} is '${range}', not '^${sibling.manifest.version}' (the workspace version)`);
      }
    }
  }
  return problems;
}

function filesUnder(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true })
    .map((entry) => join(dir, entry))
    .filter((file) => statSync(file).isFile())
    .sort();
}
