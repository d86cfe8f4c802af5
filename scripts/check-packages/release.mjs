// The release flow, run dry: `changeset version` in a scratch copy of the workspace's manifests, changelogs and
// .changeset folder, with the pending changesets plus one patch changeset of its own. It fails when the config
// or a pending changeset is broken, and checks what a release would write: every published package at the same
// new version (.changeset/config.json keeps them in one fixed group), the internal dependency ranges on it, and
// a changelog section for it above the old ones. Nothing in the repository is written.
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { indent, root, run, seconds } from './workspace.mjs';

const CHANGESET_BIN = join(root, 'node_modules/.bin/changeset');

/** Returns a list of problems. */
export async function checkReleaseFlow(packages) {
  const started = performance.now();
  if (!existsSync(CHANGESET_BIN)) return ['release: node_modules/.bin/changeset is missing: run `npm ci`'];
  const scratch = mkdtempSync(join(tmpdir(), 'trpc-idempotency-release-'));
  try {
    copyWorkspace(scratch);
    const probe = packages.find((pkg) => pkg.folder === 'protocol') ?? packages[0];
    writeFileSync(
      join(scratch, '.changeset/check-release-dry-run.md'),
      `---\n"${probe.manifest.name}": patch\n---\n\nA dry run of the release flow (scripts/check-packages/release.mjs).\n`,
    );
    const versioned = await run(CHANGESET_BIN, ['version'], { cwd: scratch });
    if (!versioned.ok) return [`release: changeset version failed\n${indent(versioned.output)}`];
    const problems = checkVersioned(scratch, packages);
    const next = readManifest(scratch, probe.rel).version;
    if (problems.length === 0) {
      console.log(
        `check-packages: release: changeset version would release ${next} of ${packages.length} packages, with changelogs (${seconds(performance.now() - started)})`,
      );
    }
    return problems;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** The root and every workspace's package.json, each published package's CHANGELOG.md, and .changeset. */
function copyWorkspace(scratch) {
  const workspace = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const files = ['package.json'];
  for (const pattern of workspace.workspaces) {
    const folders = pattern.endsWith('/*')
      ? listFolders(pattern.slice(0, -2)).map((name) => `${pattern.slice(0, -2)}/${name}`)
      : [pattern];
    for (const folder of folders) {
      for (const file of ['package.json', 'CHANGELOG.md']) {
        if (existsSync(join(root, folder, file))) files.push(`${folder}/${file}`);
      }
    }
  }
  for (const file of files) {
    mkdirSync(dirname(join(scratch, file)), { recursive: true });
    cpSync(join(root, file), join(scratch, file));
  }
  cpSync(join(root, '.changeset'), join(scratch, '.changeset'), { recursive: true });
  // The changelog generator named in the config is resolved from the scratch folder.
  symlinkSync(join(root, 'node_modules'), join(scratch, 'node_modules'), 'dir');
}

function listFolders(folder) {
  return existsSync(join(root, folder))
    ? readdirSync(join(root, folder)).filter((name) => existsSync(join(root, folder, name, 'package.json')))
    : [];
}

function readManifest(scratch, rel) {
  return JSON.parse(readFileSync(join(scratch, rel, 'package.json'), 'utf8'));
}

/** What `changeset version` wrote, against what a release of the fixed group has to hold. */
function checkVersioned(scratch, packages) {
  const problems = [];
  const versions = new Map(packages.map((pkg) => [pkg.manifest.name, readManifest(scratch, pkg.rel).version]));
  const distinct = new Set(versions.values());
  if (distinct.size !== 1) {
    problems.push(
      `release: the packages would get different versions: ${[...versions].map(([n, v]) => `${n}@${v}`).join(', ')}`,
    );
  }
  for (const pkg of packages) {
    const next = versions.get(pkg.manifest.name);
    if (next === pkg.manifest.version) problems.push(`release: ${pkg.rel} would stay at ${next}`);
    const manifest = readManifest(scratch, pkg.rel);
    for (const [dependency, range] of Object.entries(manifest.dependencies ?? {})) {
      const internal = versions.get(dependency);
      if (internal && range !== `^${internal}`) {
        problems.push(`release: ${pkg.rel} would depend on ${dependency} ${range}, not ^${internal}`);
      }
    }
    const changelog = readFileSync(join(scratch, pkg.rel, 'CHANGELOG.md'), 'utf8');
    const sections = [...changelog.matchAll(/^## (\S+)/gm)].map((match) => match[1]);
    if (sections[0] !== next || !sections.includes(pkg.manifest.version)) {
      problems.push(
        `release: ${pkg.rel}/CHANGELOG.md would have sections ${sections.join(', ')}; expected ${next} first and ${pkg.manifest.version} kept`,
      );
    }
  }
  if (existsSync(join(scratch, '.changeset/check-release-dry-run.md'))) {
    problems.push('release: changeset version left its changeset in place');
  }
  return problems;
}
