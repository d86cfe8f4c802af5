import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (path: string) => fileURLToPath(new URL(path, import.meta.url));

export default defineConfig({
  resolve: {
    alias: [
      { find: /^@trpc-idempotency\/protocol$/, replacement: src('./packages/protocol/src/index.ts') },
      { find: /^@trpc-idempotency\/server$/, replacement: src('./packages/server/src/index.ts') },
      {
        find: /^@trpc-idempotency\/server\/opentelemetry$/,
        replacement: src('./packages/server/src/opentelemetry.ts'),
      },
      { find: /^@trpc-idempotency\/postgres$/, replacement: src('./packages/postgres/src/index.ts') },
      { find: /^@trpc-idempotency\/mysql$/, replacement: src('./packages/mysql/src/index.ts') },
      { find: /^@trpc-idempotency\/sqlite$/, replacement: src('./packages/sqlite/src/index.ts') },
      {
        find: /^@trpc-idempotency\/client\/opentelemetry$/,
        replacement: src('./packages/client/src/opentelemetry.ts'),
      },
      { find: /^@trpc-idempotency\/client\/react$/, replacement: src('./packages/client/src/react/index.ts') },
      { find: /^@trpc-idempotency\/client\/tanstack$/, replacement: src('./packages/client/src/tanstack/index.ts') },
      { find: /^@trpc-idempotency\/client$/, replacement: src('./packages/client/src/index.ts') },
    ],
  },
  test: {
    globalSetup: ['test/globalSetup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two groups, one after the other. The unit and integration files mostly wait on sockets and timers, so two
    // of them run at once even on 2 cores. The reliability scenarios and the example's end-to-end and browser
    // tests spawn server processes and measure windows of time: they run one file at a time, after the others.
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts', 'packages/*/src/**/*.test.ts'],
          exclude: ['test/reliability/**', 'test/e2e/**'],
          maxWorkers: 2,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'processes',
          include: ['test/reliability/**/*.test.ts', 'test/e2e/**/*.test.ts'],
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
    // The JSON report lets .ci/run print one plain closing line with the counts.
    reporters: ['default', ['json', { outputFile: 'test-output/vitest-results.json' }]],
  },
});
