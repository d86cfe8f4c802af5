import { createSchema, PostgresStore, PostgresStoreSetupError } from '@trpc-idempotency/postgres';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { postMutation, startTestApp } from '../support/app.js';
import { newKey } from '../support/backends.js';
import { dropSchema, POSTGRES_HINT, testPool, testTable } from '../support/postgres.js';

const url = inject('postgresUrl');
if (!url) console.warn(`test/postgres/startup.test.ts skipped: no PostgreSQL. ${POSTGRES_HINT}`);

/** The setup error `ready()` throws, or fails the test when it resolves. */
async function setupError(store: PostgresStore): Promise<PostgresStoreSetupError> {
  const error = await store.ready().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PostgresStoreSetupError);
  return error as PostgresStoreSetupError;
}

describe.skipIf(!url)('a PostgresStore that cannot be used says so at start-up', () => {
  const pool = testPool(url ?? '');
  const tables: string[] = [];
  const table = () => {
    const name = testTable();
    tables.push(name);
    return name;
  };
  afterAll(async () => {
    for (const name of tables) await dropSchema(pool, name);
    await pool.end();
  });

  it.each([
    ['nothing listens on the port', 'postgres://postgres@127.0.0.1:1/postgres', /ECONNREFUSED/],
    ['the database does not exist', 'postgres://postgres@127.0.0.1:5432/no_such_database_here', /does not exist/],
  ])('a bad DATABASE_URL (%s) is a CONNECTION_FAILED error', async (_, badUrl, message) => {
    if (process.env.DATABASE_URL && badUrl.includes('5432')) return; // that case needs the local server
    const badPool = testPool(badUrl);
    try {
      const error = await setupError(new PostgresStore({ pool: badPool, timeoutMs: 5000 }));
      expect(error.code).toBe('CONNECTION_FAILED');
      expect(error.message).toMatch(message);
      expect(error.message).toMatch(/DATABASE_URL/);
    } finally {
      await badPool.end();
    }
  });

  it('a missing table is a SCHEMA_MISSING error that names createSchema()', async () => {
    const name = table();
    const error = await setupError(new PostgresStore({ pool, table: name }));
    expect(error.code).toBe('SCHEMA_MISSING');
    expect(error.message).toContain(`the table ${name} does not exist`);
    expect(error.message).toContain(`createSchema(pool, { table: '${name}' })`);
  });

  it('an older or a newer schema version is a typed error; createSchema() brings an older one up to date', async () => {
    const name = table();
    await createSchema(pool, { table: name });
    await pool.query(`CREATE OR REPLACE FUNCTION ${name}_schema_version() RETURNS integer LANGUAGE sql AS 'SELECT 0'`);
    const old = await setupError(new PostgresStore({ pool, table: name }));
    expect(old.code).toBe('SCHEMA_OUTDATED');
    expect(old.message).toMatch(/schema version 0, and this package needs version 1\. Run createSchema\(pool/);

    await pool.query(`CREATE OR REPLACE FUNCTION ${name}_schema_version() RETURNS integer LANGUAGE sql AS 'SELECT 99'`);
    expect((await setupError(new PostgresStore({ pool, table: name }))).code).toBe('SCHEMA_NEWER');

    await pool.query(`DROP FUNCTION ${name}_schema_version()`);
    expect((await setupError(new PostgresStore({ pool, table: name }))).message).toMatch(/schema version none/);

    await createSchema(pool, { table: name });
    const store = new PostgresStore({ pool, table: name });
    await expect(store.ready()).resolves.toBe(store);
  });

  it('refuses a table name that is not a plain identifier, when the store is built', () => {
    for (const bad of ['Idem', 'idem; DROP TABLE x', 'a.b.c', '', 'x'.repeat(41)]) {
      expect(() => new PostgresStore({ pool, table: bad })).toThrow(/option "table"/);
    }
    expect(() => new PostgresStore({ pool: {} as never })).toThrow(/option "pool"/);
  });

  describe('a store whose check was skipped', () => {
    let name: string;
    beforeAll(() => {
      name = table();
    });

    it('answers each request 503 STORE_UNAVAILABLE, never 500, until the schema exists; then it serves', async () => {
      const app = await startTestApp({ store: new PostgresStore({ pool, table: name }) });
      try {
        const key = newKey();
        const headers = { 'idempotency-key': key, 'x-user': 'ann' };
        const answer = await postMutation(app.url, 'orders.create', { item: 'lamp' }, headers);
        expect(answer.status).toBe(503);
        expect(answer.error?.data.idempotency.code).toBe('STORE_UNAVAILABLE');
        const storeError = app.effects.events.find((event) => event.type === 'storeError');
        expect(storeError?.error).toBeInstanceOf(PostgresStoreSetupError);
        expect(app.runsOf('ann', key)).toBe(0);

        await createSchema(pool, { table: name });
        expect((await postMutation(app.url, 'orders.create', { item: 'lamp' }, headers)).status).toBe(200);
        expect(app.runsOf('ann', key)).toBe(1);
      } finally {
        await app.close();
      }
    });
  });
});
