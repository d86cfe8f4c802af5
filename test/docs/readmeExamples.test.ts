import { execFile } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * Compiles every ```ts and ```tsx block of the READMEs, the way a user's project would: against the built
 * packages (packages/*\/dist, through the workspace links in node_modules), with strict TypeScript.
 *
 * - A block may name its file in the info string (```ts file=server.ts); other blocks import it as './server'.
 *   Named files of all READMEs share one folder, so each name is used once. Unnamed blocks get a file of their own.
 * - Every block is a module of its own (`moduleDetection: 'force'`), so blocks never share a global scope.
 * - The only thing added is test/docs/readme-placeholders.d.ts: declarations of the app-specific names
 *   (`db`, `session`, `getToken`...) that the examples use.
 */

const root = fileURLToPath(new URL('../../', import.meta.url));
const placeholdersFile = fileURLToPath(new URL('./readme-placeholders.d.ts', import.meta.url));
const tscBin = createRequire(import.meta.url).resolve('typescript/bin/tsc');

/** A Markdown file: `name` is its path from the repository root, as failures report it. */
interface Doc {
  name: string;
  text: string;
}

/** One TypeScript block of a Markdown file. */
interface Block {
  doc: string;
  /** 1-based line of the opening fence. */
  line: number;
  lang: 'ts' | 'tsx';
  /** Where the block is written, relative to the scratch folder. */
  file: string;
  code: string;
}

/**
 * What a user's project would set. `moduleResolution: 'bundler'` because the examples import relative files
 * without an extension (`./server`), as bundled apps (Vite, Next.js) and tsx do; it reads the packages' `exports`
 * with the `import` and `types` conditions, the same entry points a Node ESM project gets. `module: 'esnext'`
 * allows top-level await. `verbatimModuleSyntax`, as in Vite's templates, makes type-only imports say so.
 */
const compilerOptions = {
  strict: true,
  noEmit: true,
  target: 'ES2022',
  lib: ['ES2023', 'DOM', 'DOM.Iterable'],
  module: 'ESNext',
  moduleResolution: 'Bundler',
  moduleDetection: 'force',
  verbatimModuleSyntax: true,
  jsx: 'react-jsx',
  types: ['node'],
  skipLibCheck: true,
};

/** The Markdown files whose blocks are checked: the READMEs, CONTRIBUTING.md and docs/. */
function readmes(): Doc[] {
  const names = ['README.md', 'CONTRIBUTING.md'];
  for (const entry of readdirSync(join(root, 'docs'), { withFileTypes: true })) {
    if (entry.isFile() && entry.name.endsWith('.md')) names.push(`docs/${entry.name}`);
  }
  for (const folder of ['packages', 'examples']) {
    for (const entry of readdirSync(join(root, folder), { withFileTypes: true })) {
      const name = `${folder}/${entry.name}/README.md`;
      if (entry.isDirectory() && existsSync(join(root, name))) names.push(name);
    }
  }
  return names.map((name) => ({ name, text: readFileSync(join(root, name), 'utf8') }));
}

const FENCE = /^(\s*)(`{3,}|~{3,})(.*)$/;
const FILE_NAME = /^(?:[\w-]+\/)*[\w.-]+\.tsx?$/;

/** The ```ts and ```tsx blocks of a Markdown file, with the file each is written to. */
function extractBlocks(doc: Doc): Block[] {
  const lines = doc.text.split(/\r?\n/);
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i]!);
    if (!open) continue;
    const [, indent = '', fence = '', info = ''] = open;
    const line = i + 1;
    let end = i + 1;
    while (end < lines.length && !isClosingFence(lines[end]!, fence)) end++;
    if (end === lines.length) throw new Error(`${doc.name}:${line}: the code block is never closed`);
    const body = lines.slice(i + 1, end);
    i = end;

    const [lang = '', ...attributes] = info.trim().split(/\s+/);
    if (lang !== 'ts' && lang !== 'tsx') continue;
    let file = `${doc.name.replace(/[^\w]+/g, '_')}_L${line}.${lang}`;
    for (const attribute of attributes) {
      const [key, value = ''] = attribute.split('=', 2);
      if (key !== 'file') throw new Error(`${doc.name}:${line}: unknown attribute '${attribute}' (only file=NAME)`);
      if (!FILE_NAME.test(value) || value.split('/').includes('..') || !value.endsWith(`.${lang}`)) {
        throw new Error(`${doc.name}:${line}: file=${value} must be a relative path ending in .${lang}`);
      }
      file = value;
    }
    const code = body.map((text) => (text.startsWith(indent) ? text.slice(indent.length) : text.trimStart()));
    blocks.push({ doc: doc.name, line, lang, file, code: `${code.join('\n')}\n` });
  }
  return blocks;
}

function isClosingFence(text: string, fence: string): boolean {
  const trimmed = text.trim();
  return trimmed.length >= fence.length && [...trimmed].every((char) => char === fence[0]);
}

/**
 * Writes the blocks into `dir` (emptied first) with the placeholder declarations and a tsconfig.json, runs one
 * tsc over all of them, and returns tsc's errors, each prefixed with the README and line it comes from.
 */
async function compileBlocks(blocks: Block[], dir: string): Promise<string[]> {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const byFile = new Map<string, Block>();
  for (const block of blocks) {
    const other = byFile.get(block.file);
    if (other) {
      throw new Error(`${block.doc}:${block.line}: file=${block.file} is already used by ${other.doc}:${other.line}`);
    }
    byFile.set(block.file, block);
    mkdirSync(dirname(join(dir, block.file)), { recursive: true });
    writeFileSync(join(dir, block.file), block.code);
  }
  writeFileSync(join(dir, 'readme-placeholders.d.ts'), readFileSync(placeholdersFile, 'utf8'));
  linkExampleDependencies(dir);
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({ compilerOptions, files: ['readme-placeholders.d.ts', ...byFile.keys()] }, null, 2),
  );

  // Like every tsc run, this reports only syntax errors while there are any; type errors follow once they are fixed.
  const output = await new Promise<{ failed: string | null; text: string }>((done) => {
    execFile(process.execPath, [tscBin, '-p', 'tsconfig.json', '--pretty', 'false'], { cwd: dir }, (error, out, err) =>
      done({ failed: error ? `tsc failed: ${error.message}` : null, text: `${out}${err}` }),
    );
  });

  const failures: string[] = [];
  for (const text of output.text.split('\n')) {
    const error = /^(.+?)\((\d+),(\d+)\): (error .*)$/.exec(text);
    if (!error) {
      // tsc continues a long message on indented lines.
      if (text.trim() && failures.length > 0 && /^\s/.test(text)) failures[failures.length - 1] += `\n${text}`;
      else if (text.trim()) failures.push(text);
      continue;
    }
    const [, path = '', errorLine = '0', column = '0', message = ''] = error;
    const block = byFile.get(relative(dir, resolve(dir, path)).split('\\').join('/'));
    failures.push(
      block
        ? `${block.doc}:${block.line + Number(errorLine)}:${column} (the block at line ${block.line}): ${message}`
        : `${path}:${errorLine}:${column}: ${message}`,
    );
  }
  if (output.failed && failures.length === 0) failures.push(output.failed);
  return failures;
}

/**
 * The example's README blocks import the example's own dependencies; npm keeps some of them in
 * examples/<name>/node_modules rather than the root one. Link those into the scratch folder's node_modules,
 * where a user's install would have put them.
 */
function linkExampleDependencies(dir: string): void {
  for (const example of readdirSync(join(root, 'examples'))) {
    const manifest = join(root, 'examples', example, 'package.json');
    if (!existsSync(manifest)) continue;
    const { dependencies = {}, devDependencies = {} } = JSON.parse(readFileSync(manifest, 'utf8'));
    for (const name of Object.keys({ ...dependencies, ...devDependencies })) {
      const own = join(root, 'examples', example, 'node_modules', name);
      const link = join(dir, 'node_modules', name);
      if (!existsSync(own) || existsSync(join(root, 'node_modules', name)) || existsSync(link)) continue;
      mkdirSync(dirname(link), { recursive: true });
      symlinkSync(own, link, 'dir');
    }
  }
}

/** A fresh folder under test-output/ (git-ignored), so that test runs side by side never share one. */
function scratchFolder(prefix: string): string {
  mkdirSync(join(root, 'test-output'), { recursive: true });
  return mkdtempSync(join(root, 'test-output', prefix));
}

describe('README TypeScript examples', () => {
  it('every ```ts and ```tsx block of the READMEs compiles against the built packages', async () => {
    for (const built of ['protocol/dist/index.d.ts', 'server/dist/index.d.ts', 'client/dist/react/index.d.ts']) {
      expect(existsSync(join(root, 'packages', built)), `packages/${built} is missing: run npm run build`).toBe(true);
    }
    const docs = readmes();
    const blocks = docs.flatMap(extractBlocks);
    // The quickstart's server, client and TanStack files, and the reference's blocks under docs/.
    expect(blocks.filter((block) => block.doc === 'README.md').length).toBeGreaterThanOrEqual(3);
    expect(blocks.filter((block) => block.doc.startsWith('docs/')).length).toBeGreaterThan(10);
    const dir = scratchFolder('readme-examples-');
    const failures = await compileBlocks(blocks, dir);
    expect(failures.join('\n\n'), `the blocks are in ${relative(root, dir)}`).toBe('');
    rmSync(dir, { recursive: true, force: true });

    // A placeholder that no block uses any more is dead weight: drop it from readme-placeholders.d.ts.
    const declared = readFileSync(placeholdersFile, 'utf8').matchAll(/^(?:declare (?:const|function)|type) (\w+)/gm);
    const unused = [...declared]
      .map(([, name = '']) => name)
      .filter((name) => !blocks.some((block) => new RegExp(`\\b${name}\\b`).test(block.code)));
    expect(unused, 'placeholders that no README block uses').toEqual([]);
  }, 180_000);

  it('reads fences, info strings and line numbers', () => {
    const doc = {
      name: 'fixture.md',
      text: [
        '# Title', // 1
        '```sh', // 2
        'npm test', // 3
        '```', // 4
        '```ts file=lib/answer.ts', // 5
        'export const answer = 42;', // 6
        '```', // 7
        '- item', // 8
        '  ````tsx', // 9
        '  const x = <b />;', // 10
        '  ````', // 11
      ].join('\n'),
    };
    expect(extractBlocks(doc)).toEqual([
      { doc: 'fixture.md', line: 5, lang: 'ts', file: 'lib/answer.ts', code: 'export const answer = 42;\n' },
      { doc: 'fixture.md', line: 9, lang: 'tsx', file: 'fixture_md_L9.tsx', code: 'const x = <b />;\n' },
    ]);
    expect(() => extractBlocks({ name: 'a.md', text: '```ts name=x.ts\n```' })).toThrow('a.md:1: unknown attribute');
    expect(() => extractBlocks({ name: 'a.md', text: '```ts file=../x.ts\n```' })).toThrow('a.md:1: file=../x.ts');
    expect(() => extractBlocks({ name: 'a.md', text: '```ts\nconst a = 1;' })).toThrow('a.md:1: the code block');
  });

  it('fails on a block that does not compile, naming its README and line', async () => {
    const doc = {
      name: 'broken/README.md',
      text: [
        '```ts file=lib.ts', // 1
        'export const answer: number = 42;', // 2
        '```', // 3
        '```ts', // 4
        "import { answer } from './lib';", // 5
        'const total: number = answer + session.userId.length; // a placeholder', // 6
        '```', // 7
        '```ts', // 8
        "const total = 'a block without imports is a module of its own';", // 9
        '```', // 10
        '```tsx', // 11
        'const element = <div />;', // 12
        "const count: number = 'not a number';", // 13
        '```', // 14
      ].join('\n'),
    };
    const dir = scratchFolder('readme-examples-selftest-');
    const failures = await compileBlocks(extractBlocks(doc), dir);
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatch(/^broken\/README\.md:13:7 \(the block at line 11\): error TS2322: Type 'string'/);
    rmSync(dir, { recursive: true, force: true });
  }, 180_000);
});
