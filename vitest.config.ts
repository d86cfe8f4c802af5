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
    include: ['test/**/*.test.ts', 'packages/*/src/**/*.test.ts'],
    globalSetup: ['test/globalSetup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // The JSON report lets .ci/run print one plain closing line with the counts.
    reporters: ['default', ['json', { outputFile: 'test-output/vitest-results.json' }]],
  },
});
