import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSchema, SqliteStore, type SqliteStoreOptions } from '@trpc-idempotency/sqlite';

/** A new directory for database files, removed by `remove()`. */
export function tempDatabaseDir(): { dir: string; file(name?: string): string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'trpc-idem-sqlite-'));
  return {
    dir,
    file: (name = 'app.db') => join(dir, name),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** A SqliteStore on a new file in a temporary directory of its own; `remove` closes it and deletes the directory. */
export async function openSqliteStore(
  options: Omit<SqliteStoreOptions, 'filename'> = {},
): Promise<{ store: SqliteStore; filename: string; remove(): Promise<void> }> {
  const temp = tempDatabaseDir();
  const filename = temp.file();
  createSchema(filename, { table: options.table });
  const store = await new SqliteStore({ ...options, filename }).ready();
  return {
    store,
    filename,
    async remove() {
      await store.close();
      temp.remove();
    },
  };
}
