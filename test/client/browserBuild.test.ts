import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type BuildOptions, build } from 'esbuild';
import superjson from 'superjson';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestRouter } from '../support/app.js';
import { type ClientRig, startClientRig } from '../support/clientHarness.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const NODE_BUILTINS = new Set(builtinModules.flatMap((name) => [name, `node:${name}`]));

/** Bundles like a browser app would: platform browser, the package's `browser` conditions, React left to the app. */
async function browserBuild(entryPoints: Record<string, string>, extra: Partial<BuildOptions> = {}) {
  const result = await build({
    entryPoints,
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    write: false,
    metafile: true,
    logLevel: 'silent',
    outdir: 'out',
    external: ['react', 'react/*'],
    alias: { '@trpc-idempotency/protocol': join(root, 'packages/protocol/src/index.ts') },
    ...extra,
  });
  return { ...result, metafile: result.metafile!, outputFiles: result.outputFiles! };
}

describe('the browser build', () => {
  let rig: ClientRig;
  let dir: string;
  beforeAll(async () => {
    rig = await startClientRig();
    dir = await mkdtemp(join(tmpdir(), 'client-browser-'));
  });
  afterAll(async () => {
    await rig.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('bundles the client and its react subpath for the browser with no Node built-in', async () => {
    const result = await browserBuild({
      index: join(root, 'packages/client/src/index.ts'),
      react: join(root, 'packages/client/src/react/index.ts'),
    });

    expect(result.errors).toEqual([]);
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.some((input) => input.includes('packages/client/src/links/idempotencyLink.ts'))).toBe(true);
    expect(inputs.some((input) => input.includes('uuid/dist/esm-browser'))).toBe(true);
    const imported = Object.values(result.metafile.inputs).flatMap((input) => input.imports.map((i) => i.path));
    expect(imported.filter((path) => NODE_BUILTINS.has(path) || path.startsWith('node:'))).toEqual([]);
    const externals = Object.values(result.metafile.outputs).flatMap((output) =>
      output.imports.filter((i) => i.external).map((i) => i.path),
    );
    expect(externals.filter((path) => path !== 'react' && !path.startsWith('react/'))).toEqual([]);
    for (const file of result.outputFiles) expect(file.text).not.toMatch(/from\s*["']node:|require\(["']node:/);
  });

  it('fails, as the check above relies on, when something pulls in a Node built-in', async () => {
    const entry = join(dir, 'uses-node.ts');
    await writeFile(entry, "import { randomUUID } from 'node:crypto';\nexport const id = randomUUID();\n");
    await expect(browserBuild({ entry })).rejects.toThrow(/node:crypto/);
  });

  it('runs: the browser bundle keys and retries a mutation against the real server', async () => {
    const result = await browserBuild({ index: join(root, 'packages/client/src/index.ts') }, { external: [] });
    const file = join(dir, 'client.browser.mjs');
    await writeFile(file, result.outputFiles[0]!.text);
    const bundle = (await import(pathToFileURL(file).href)) as typeof import('@trpc-idempotency/client');
    const client = bundle.createIdempotentClient<TestRouter>({
      url: rig.proxy.url,
      transformer: superjson,
      headers: { 'x-user': 'eve' },
      idempotency: {
        schedule: (run) => {
          const timer = setImmediate(run);
          return () => clearImmediate(timer);
        },
      },
    });
    rig.proxy.plan({ kind: 'reset-after-forward' });

    const order = await client.orders.create.mutate({ item: 'browser' });

    const [first, second] = rig.proxy.requests.slice(-2);
    expect(first!.key).toBe(second!.key);
    expect(rig.app.runsOf('eve', first!.key!)).toBe(1);
    expect(order.createdAt).toBeInstanceOf(Date);
  });
});
