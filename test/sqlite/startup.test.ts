import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createSchema, SqliteStore, SqliteStoreSetupError, schemaSql } from '@trpc-idempotency/sqlite';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { postMutation, startTestApp } from '../support/app.js';
import { newKey } from '../support/backends.js';
import { tempDatabaseDir } from '../support/sqlite.js';

/** The setup error `ready()` throws, or fails the test when it resolves. */
async function setupError(store: SqliteStore): Promise<SqliteStoreSetupError> {
  const error = await store.ready().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SqliteStoreSetupError);
  return error as SqliteStoreSetupError;
}

describe('a SqliteStore that cannot be used says so at start-up', () => {
  const temp = tempDatabaseDir();
  const stores: SqliteStore[] = [];
  const store = (filename: string, table?: string) => {
    const made = new SqliteStore({ filename, table });
    stores.push(made);
    return made;
  };
  afterAll(async () => {
    for (const made of stores) await made.close();
    temp.remove();
  });

  it('a file that cannot be opened, or is not a database, is an OPEN_FAILED error that names the file', async () => {
    const missingDir = join(temp.dir, 'no-such-dir', 'app.db');
    const error = await setupError(store(missingDir));
    expect(error.code).toBe('OPEN_FAILED');
    expect(error.message).toContain(JSON.stringify(missingDir));
    expect(error.message).toMatch(/directory exists/);

    const garbage = temp.file('garbage.db');
    writeFileSync(garbage, 'this is not a SQLite database, only text long enough to be read as a header'.repeat(20));
    const notDb = await setupError(store(garbage));
    expect(notDb.code).toBe('OPEN_FAILED');
    expect(notDb.message).toMatch(/SQLITE_NOTADB/);
  });

  it('a missing table is a SCHEMA_MISSING error that names createSchema()', async () => {
    const error = await setupError(store(temp.file('empty.db'), 'idem'));
    expect(error.code).toBe('SCHEMA_MISSING');
    expect(error.message).toContain('the table idem does not exist');
    expect(error.message).toContain("createSchema(filename, { table: 'idem' })");
  });

  it('an older or a newer schema version is a typed error; createSchema() brings an older one up to date', async () => {
    const filename = temp.file('versions.db');
    createSchema(filename);
    const db = new Database(filename);
    try {
      db.exec('UPDATE trpc_idempotency_schema SET version = 0');
      const old = await setupError(store(filename));
      expect(old.code).toBe('SCHEMA_OUTDATED');
      expect(old.message).toMatch(/schema version 0, and this package needs version 1\. Run createSchema\(filename\)/);

      db.exec('UPDATE trpc_idempotency_schema SET version = 99');
      expect((await setupError(store(filename))).code).toBe('SCHEMA_NEWER');
      createSchema(filename); // never lowers a newer version
      expect((await setupError(store(filename))).code).toBe('SCHEMA_NEWER');

      db.exec('DROP TABLE trpc_idempotency_schema');
      expect((await setupError(store(filename))).message).toMatch(/schema version none/);

      createSchema(filename);
      const fixed = store(filename);
      await expect(fixed.ready()).resolves.toBe(fixed);
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    } finally {
      db.close();
    }
  });

  it('refuses a bad table name or an in-memory database when the store is built', () => {
    for (const bad of ['Idem', 'idem; DROP TABLE x', 'a.b', 'sqlite_x', 'x'.repeat(41)]) {
      expect(() => new SqliteStore({ filename: temp.file(), table: bad })).toThrow(/option "table"/);
    }
    expect(() => new SqliteStore({ filename: ':memory:' })).toThrow(/use MemoryStore/);
    expect(() => new SqliteStore({} as never)).toThrow(/option "filename"/);
  });

  it('answers each request 503 STORE_UNAVAILABLE, never 500, until the schema exists; then it serves', async () => {
    const filename = temp.file('later.db');
    const app = await startTestApp({ store: store(filename) });
    try {
      const key = newKey();
      const headers = { 'idempotency-key': key, 'x-user': 'ann' };
      const answer = await postMutation(app.url, 'orders.create', { item: 'lamp' }, headers);
      expect(answer.status).toBe(503);
      expect(answer.error?.data.idempotency.code).toBe('STORE_UNAVAILABLE');
      const storeError = app.effects.events.find((event) => event.type === 'storeError');
      expect(storeError?.error).toBeInstanceOf(SqliteStoreSetupError);
      expect(app.runsOf('ann', key)).toBe(0);

      createSchema(filename);
      expect((await postMutation(app.url, 'orders.create', { item: 'lamp' }, headers)).status).toBe(200);
      expect(app.runsOf('ann', key)).toBe(1);
    } finally {
      await app.close();
    }
  });
});

describe('the SQL the sqlite package ships', () => {
  const shipped = fileURLToPath(new URL('../../packages/sqlite/sql/trpc_idempotency.sql', import.meta.url));
  it('is what createSchema() runs for the default table (UPDATE_SQL=1 rewrites it)', () => {
    if (process.env.UPDATE_SQL === '1') writeFileSync(shipped, schemaSql());
    expect(readFileSync(shipped, 'utf8')).toBe(schemaSql());
  });
});
