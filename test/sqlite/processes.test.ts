import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createSchema } from '@trpc-idempotency/sqlite';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDatabaseDir } from '../support/sqlite.js';

const run = promisify(execFile);
const child = fileURLToPath(new URL('../support/sqliteStormProcess.ts', import.meta.url));
const PROCESSES = 4;
const INTENTS = 500;
const CALLERS = 10;

// Several processes on one file: safe for exactly-once (SQLite's file locks), not fair (packages/sqlite/README.md).
describe('four processes on one SQLite file', () => {
  const temp = tempDatabaseDir();
  afterAll(() => temp.remove());

  it(`claim each of ${INTENTS} intents × ${CALLERS} callers exactly once`, async () => {
    const filename = temp.file();
    createSchema(filename);
    const startAt = Date.now() + 3000;
    const outputs = await Promise.all(
      Array.from({ length: PROCESSES }, (_, index) =>
        run(
          process.execPath,
          [
            '--import',
            'tsx',
            child,
            filename,
            String(index),
            String(PROCESSES),
            String(INTENTS),
            String(CALLERS),
            String(startAt),
          ],
          { timeout: 60_000 },
        ),
      ),
    );
    const counts = outputs.map(({ stdout }) => JSON.parse(stdout.trim().split('\n').pop()!));
    const db = new Database(filename, { readonly: true });
    try {
      const rows = db
        .prepare("SELECT count(*) AS n, sum(state = 'c') AS completed, max(fence) AS fence FROM trpc_idempotency")
        .get();
      expect(rows).toEqual({ n: INTENTS, completed: INTENTS, fence: 1 });
    } finally {
      db.close();
    }
    const claimed = counts.reduce((sum, count) => sum + count.claimed, 0);
    const errors = counts.reduce((sum, count) => sum + count.errors, 0);
    expect(claimed).toBe(INTENTS);
    // A call may fail with SQLITE_BUSY past the busy timeout (a 503 the caller retries); it never claims twice.
    expect(counts.reduce((sum, count) => sum + count.claimed + count.answered + count.errors, 0)).toBe(
      INTENTS * CALLERS,
    );
    expect(errors).toBeLessThan(INTENTS * CALLERS * 0.01);
  });
});
