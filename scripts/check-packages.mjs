#!/usr/bin/env node
// Checks every published package the way its users will meet it. Run after `npm run build`.
//  - dist: the ESM build's size against the budget; every bare import in dist declared in dependencies or
//    peerDependencies (and every declared one used); nothing bundled in from node_modules (check-packages/dist.mjs)
//  - publint and @arethetypeswrong/cli (check-packages/lint.mjs)
//  - repository, bugs, homepage, publishConfig, license, engines, a LICENSE copy and a CHANGELOG.md in each
//    folder (check-packages/manifest.mjs)
//  - the release flow, dry: `changeset version` in a scratch copy (check-packages/release.mjs)
//  - `npm pack`, then scratch projects outside the repository that install the tarballs alone, type-check
//    a user's code and import/require every entry (check-packages/scratch.mjs, fixtures.mjs); every tarball
//    holds package.json, README.md, LICENSE and CHANGELOG.md (check-packages/manifest.mjs)
// CHECK_PACKAGES_KEEP=1 keeps the scratch projects (they are kept anyway when a check fails).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { checkDist } from './check-packages/dist.mjs';
import { lintPackage } from './check-packages/lint.mjs';
import { checkManifest } from './check-packages/manifest.mjs';
import { checkReleaseFlow } from './check-packages/release.mjs';
import { checkScratchInstalls } from './check-packages/scratch.mjs';
import { publishedPackages, seconds } from './check-packages/workspace.mjs';

const started = performance.now();
const packages = publishedPackages();
const problems = [];

const unbuilt = packages.filter((pkg) => !existsSync(join(pkg.dir, 'dist')));
if (unbuilt.length > 0) {
  console.error(`check-packages: no dist in ${unbuilt.map((pkg) => pkg.rel).join(', ')}: run \`npm run build\` first`);
  process.exit(1);
}
for (const pkg of packages) {
  problems.push(...checkDist(pkg, packages).map((problem) => `${pkg.rel}: ${problem}`));
  problems.push(...checkManifest(pkg).map((problem) => `${pkg.rel}: ${problem}`));
}

const [linted, scratch, release] = await Promise.all([
  Promise.all(packages.flatMap(lintPackage)),
  checkScratchInstalls(packages),
  checkReleaseFlow(packages),
]);
problems.push(...linted.flat(), ...scratch, ...release);

const elapsed = seconds(performance.now() - started);
if (problems.length === 0) {
  console.log(`check-packages: all checks passed in ${elapsed}`);
} else {
  console.error(`check-packages: ${problems.length} problem(s) in ${elapsed}:`);
  for (const problem of problems) console.error(`  - ${problem}`);
  process.exitCode = 1;
}
