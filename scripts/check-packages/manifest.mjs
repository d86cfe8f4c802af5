// What a registry page and a user's tools read from each package besides its code: where the source and the
// issues are, the licence text itself, and the Node releases it supports.
//  - checkManifest: repository (with the package's folder), bugs and homepage point at the one repository;
//    publishConfig.access is public (a scoped package is private on the registry otherwise); engines.node is
//    the workspace's; a LICENSE identical to the root's sits in the folder and is listed in `files`; so does a
//    CHANGELOG.md with a section for the package's version (changesets writes the next ones).
//  - checkPackedFiles: every tarball `npm pack` wrote holds package.json, README.md, LICENSE and CHANGELOG.md.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { root } from './workspace.mjs';

/** The repository every package names, without `.git`. */
export const REPOSITORY = 'https://github.com/trpc-idempotency/trpc-idempotency';

/** The fields each package's package.json should hold, as they should read. */
export function expectedMetadata(pkg) {
  return {
    repository: { type: 'git', url: `git+${REPOSITORY}.git`, directory: pkg.rel },
    bugs: { url: `${REPOSITORY}/issues` },
    homepage: `${REPOSITORY}/tree/main/${pkg.rel}#readme`,
    publishConfig: { access: 'public' },
  };
}

/** Returns a list of problems, each naming the field or file. */
export function checkManifest(pkg) {
  const problems = [];
  const { manifest } = pkg;
  for (const [field, expected] of Object.entries(expectedMetadata(pkg))) {
    if (JSON.stringify(manifest[field]) !== JSON.stringify(expected)) {
      problems.push(`package.json "${field}" is ${JSON.stringify(manifest[field])}, not ${JSON.stringify(expected)}`);
    }
  }

  const workspace = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  if (manifest.license !== workspace.license) {
    problems.push(
      `package.json "license" is ${JSON.stringify(manifest.license)}, not the workspace's "${workspace.license}"`,
    );
  }
  if (manifest.engines?.node !== workspace.engines.node) {
    problems.push(
      `package.json "engines.node" is ${JSON.stringify(manifest.engines?.node)}, not the workspace's "${workspace.engines.node}"`,
    );
  }

  const license = join(pkg.dir, 'LICENSE');
  if (!existsSync(license)) {
    problems.push('no LICENSE file: copy the root LICENSE into the folder');
  } else if (readFileSync(license, 'utf8') !== readFileSync(join(root, 'LICENSE'), 'utf8')) {
    problems.push('LICENSE differs from the root LICENSE: copy it again');
  }
  if (!manifest.files?.includes('LICENSE')) problems.push('package.json "files" does not list LICENSE');

  const changelog = join(pkg.dir, 'CHANGELOG.md');
  if (!existsSync(changelog)) {
    problems.push('no CHANGELOG.md');
  } else {
    const text = readFileSync(changelog, 'utf8');
    if (!text.startsWith(`# ${manifest.name}\n`))
      problems.push(`CHANGELOG.md does not start with "# ${manifest.name}"`);
    if (!new RegExp(`^## ${manifest.version.replaceAll('.', '\\.')}$`, 'm').test(text)) {
      problems.push(`CHANGELOG.md has no section "## ${manifest.version}" for the package's version`);
    }
  }
  if (!manifest.files?.includes('CHANGELOG.md')) problems.push('package.json "files" does not list CHANGELOG.md');
  return problems;
}

/** The files every tarball has to hold. */
const REQUIRED_IN_TARBALL = ['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md'];

/** `entries`: the JSON `npm pack --json` printed. Returns a list of problems, each naming the package and file. */
export function checkPackedFiles(entries) {
  const problems = [];
  for (const entry of entries) {
    const paths = new Set(entry.files.map((file) => file.path));
    for (const required of REQUIRED_IN_TARBALL) {
      if (!paths.has(required)) problems.push(`${entry.name}: the packed tarball has no ${required}`);
    }
  }
  return problems;
}
