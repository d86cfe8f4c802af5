import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts', opentelemetry: 'src/opentelemetry.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  // Bundle only this package's own src. Every bare import (dependencies, peers, and anything undeclared) stays an
  // import in dist, where scripts/check-packages.mjs checks that package.json declares it; built-ins keep `node:`.
  skipNodeModulesBundle: true,
  removeNodeProtocol: false,
  target: 'es2022',
  // Minified to keep each package's ESM build within its 44 KB budget; `keepNames` keeps class and function
  // names (error names, store kinds) as written, and the shipped source maps lead back to src.
  minifyWhitespace: true,
  minifySyntax: true,
  minifyIdentifiers: true,
  keepNames: true,
  tsconfig: '../../tsconfig.base.json',
});
