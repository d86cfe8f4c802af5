/*
 * `npm run test:reliability`: runs every reliability scenario at full size, one file at a time, and
 * writes each scenario's figures to test/reliability/results/<scenario>.json, then prints them as
 * a Markdown table for RELIABILITY.md. `npm test` runs the same files at their quick size.
 * Pass scenario file names to run only those, e.g. `npm run test:reliability -- storm crash`.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const resultsDir = fileURLToPath(new URL('./results', import.meta.url));
mkdirSync(resultsDir, { recursive: true });

const only = process.argv.slice(2);
const files = only.length > 0 ? only.map((name) => `test/reliability/${name}`) : ['test/reliability'];
const startedAt = Date.now();
const run = spawnSync(
  'npx',
  ['vitest', 'run', ...files, '--no-file-parallelism', '--testTimeout=600000', '--hookTimeout=120000'],
  {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, RELIABILITY: 'full', RELIABILITY_RESULTS: resultsDir },
  },
);
const minutes = ((Date.now() - startedAt) / 60_000).toFixed(1);
// The figures are committed: keep them in the repository's JSON format.
spawnSync('npx', ['biome', 'format', '--write', resultsDir], { cwd: root, stdio: 'ignore' });

const rows = readdirSync(resultsDir)
  .filter((name) => name.endsWith('.json'))
  .map((name) => JSON.parse(readFileSync(join(resultsDir, name), 'utf8')) as Record<string, unknown>);
console.log(`\n## Reliability figures (full mode, ${minutes} min, ${cpus().length} cores, Node ${process.version})\n`);
for (const row of rows) {
  const { scenario, mode, at, ...figures } = row;
  console.log(`### ${scenario} (${mode}, ${at})\n`);
  console.log('| figure | value |\n|---|---|');
  for (const [name, value] of Object.entries(figures)) {
    console.log(`| ${name} | ${typeof value === 'object' ? `\`${JSON.stringify(value)}\`` : value} |`);
  }
  console.log('');
}
process.exit(run.status ?? 1);
