import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  // Bundle only this package's own src. Every bare import (dependencies, peers, and anything undeclared) stays an
  // import in dist, where scripts/check-packages.mjs checks that package.json declares it; built-ins keep `node:`.
  skipNodeModulesBundle: true,
  removeNodeProtocol: false,
  target: 'es2022',
  tsconfig: '../../tsconfig.base.json',
});
