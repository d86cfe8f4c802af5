import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * No import cycle anywhere in packages/*\/src, type-only imports included: a cycle means two modules that
 * cannot be read, tested or moved apart, and it is how a type ends up living in the wrong module.
 */

const root = fileURLToPath(new URL('../../', import.meta.url));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.tsx?$/.test(name) && !/\.test\.tsx?$/.test(name) ? [path] : [];
  });
}

/** The relative imports and re-exports of one module, resolved to files. */
function importsOf(file: string, text: string): string[] {
  const specifiers = [...text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'";]*?\bfrom\s*['"](\.{1,2}\/[^'"]+)['"]/g)]
    .concat([...text.matchAll(/\bimport\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g)])
    .concat([...text.matchAll(/(?:^|\n)\s*import\s*['"](\.{1,2}\/[^'"]+)['"]/g)])
    .map((match) => match[1]!);
  return specifiers.map((specifier) => {
    const base = resolve(dirname(file), specifier.replace(/\.js$/, ''));
    for (const candidate of [`${base}.ts`, `${base}.tsx`, join(base, 'index.ts')]) {
      if (existsSync(candidate)) return candidate;
    }
    throw new Error(`${relative(root, file)}: cannot resolve ${specifier}`);
  });
}

/** Every cycle of the graph, each as the list of files on it (Tarjan's strongly connected components). */
function findCycles(graph: Map<string, string[]>): string[][] {
  let index = 0;
  const indices = new Map<string, number>();
  const lowest = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (node: string) => {
    indices.set(node, index);
    lowest.set(node, index);
    index++;
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!indices.has(next)) {
        visit(next);
        lowest.set(node, Math.min(lowest.get(node)!, lowest.get(next)!));
      } else if (onStack.has(next)) {
        lowest.set(node, Math.min(lowest.get(node)!, indices.get(next)!));
      }
    }
    if (lowest.get(node) === indices.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      const selfLoop = (graph.get(node) ?? []).includes(node);
      if (component.length > 1 || selfLoop) cycles.push(component.sort());
    }
  };
  for (const node of graph.keys()) if (!indices.has(node)) visit(node);
  return cycles;
}

describe('import cycles', () => {
  it('finds none in packages/*/src', () => {
    const graph = new Map<string, string[]>();
    const packages = join(root, 'packages');
    for (const name of readdirSync(packages)) {
      const src = join(packages, name, 'src');
      if (!existsSync(src)) continue;
      for (const file of sourceFiles(src)) graph.set(file, importsOf(file, readFileSync(file, 'utf8')));
    }
    expect(graph.size).toBeGreaterThan(50);
    const cycles = findCycles(graph).map((cycle) => cycle.map((file) => relative(root, file)).join(' <-> '));
    expect(cycles).toEqual([]);
  });

  it('reports a cycle, type-only imports included', () => {
    const a = join(root, 'a.ts');
    const b = join(root, 'b.ts');
    const c = join(root, 'c.ts');
    expect(
      findCycles(
        new Map([
          [a, [b]],
          [b, [c]],
          [c, []],
        ]),
      ),
    ).toEqual([]);
    expect(
      findCycles(
        new Map([
          [a, [b]],
          [b, [c]],
          [c, [a]],
        ]),
      ),
    ).toEqual([[a, b, c].sort()]);
    const text = "import type { X } from './b.js';\nexport { y } from \"./c.js\";\nimport './a.js';";
    expect(
      importsOf(join(root, 'packages/server/src/x.ts'), text.replace(/\.\/(\w)\.js/g, './store/types.js')),
    ).toEqual([
      join(root, 'packages/server/src/store/types.ts'),
      join(root, 'packages/server/src/store/types.ts'),
      join(root, 'packages/server/src/store/types.ts'),
    ]);
  });
});
