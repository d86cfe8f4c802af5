import { createSchema, MySqlStore, MySqlStoreSetupError } from '@trpc-idempotency/mysql';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { postMutation, startTestApp } from '../support/app.js';
import { newKey } from '../support/backends.js';
import { dropMySqlSchema, MYSQL_HINT, testMySqlPool, testTable } from '../support/mysql.js';

const url = inject('mysqlUrl');
if (!url) console.warn(`test/mysql/startup.test.ts skipped: no MariaDB. ${MYSQL_HINT}`);

/** The setup error `ready()` throws, or fails the test when it resolves. */
async function setupError(store: MySqlStore): Promise<MySqlStoreSetupError> {
  const error = await store.ready().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(MySqlStoreSetupError);
  return error as MySqlStoreSetupError;
}

describe.skipIf(!url)('a MySqlStore that cannot be used says so at start-up', () => {
  const pool = testMySqlPool(url ?? 'mysql://localhost/none');
  const tables: string[] = [];
  const table = () => {
    const name = testTable();
    tables.push(name);
    return name;
  };
  afterAll(async () => {
    for (const name of tables) await dropMySqlSchema(pool, name);
    await pool.end();
  });

  it.each([
    ['nothing listens on the port', 'mysql://root@127.0.0.1:1/mysql', /ECONNREFUSED/],
    ['the database does not exist', 'mysql://root@127.0.0.1:3306/no_such_database_here', /Unknown database/],
  ])('a bad DATABASE_URL (%s) is a CONNECTION_FAILED error', async (_, badUrl, message) => {
    if (process.env.MYSQL_URL && badUrl.includes('3306')) return; // that case needs the local server
    const badPool = testMySqlPool(badUrl);
    try {
      const error = await setupError(new MySqlStore({ pool: badPool, timeoutMs: 5000 }));
      expect(error.code).toBe('CONNECTION_FAILED');
      expect(error.message).toMatch(message);
      expect(error.message).toMatch(/DATABASE_URL/);
    } finally {
      await badPool.end();
    }
  });

  it('a missing table is a SCHEMA_MISSING error that names createSchema()', async () => {
    const name = table();
    const error = await setupError(new MySqlStore({ pool, table: name }));
    expect(error.code).toBe('SCHEMA_MISSING');
    expect(error.message).toContain(`the table ${name} does not exist`);
    expect(error.message).toContain(`createSchema(pool, { table: '${name}' })`);
  });

  it('an older or a newer schema version is a typed error; createSchema() brings an older one up to date', async () => {
    const name = table();
    const version = (n: number) => [
      `DROP FUNCTION IF EXISTS ${name}_schema_version`,
      `CREATE FUNCTION ${name}_schema_version() RETURNS INT DETERMINISTIC NO SQL RETURN ${n}`,
    ];
    await createSchema(pool, { table: name });
    for (const sql of version(0)) await pool.query(sql);
    const old = await setupError(new MySqlStore({ pool, table: name }));
    expect(old.code).toBe('SCHEMA_OUTDATED');
    expect(old.message).toMatch(/schema version 0, and this package needs version 1\. Run createSchema\(pool/);

    for (const sql of version(99)) await pool.query(sql);
    expect((await setupError(new MySqlStore({ pool, table: name }))).code).toBe('SCHEMA_NEWER');

    await pool.query(`DROP FUNCTION ${name}_schema_version`);
    expect((await setupError(new MySqlStore({ pool, table: name }))).message).toMatch(/schema version none/);

    await createSchema(pool, { table: name });
    const store = new MySqlStore({ pool, table: name });
    await expect(store.ready()).resolves.toBe(store);
  });

  it('refuses a table name that is not a plain identifier, and a pool that is not a mysql2 promise pool', () => {
    for (const bad of ['Idem', 'idem; DROP TABLE x', 'a.b.c', '', 'x'.repeat(41)]) {
      expect(() => new MySqlStore({ pool, table: bad })).toThrow(/option "table"/);
    }
    expect(() => new MySqlStore({ pool: {} as never })).toThrow(/option "pool"/);
  });

  describe('a store whose check was skipped', () => {
    let name: string;
    beforeAll(() => {
      name = table();
    });

    it('answers each request 503 STORE_UNAVAILABLE, never 500, until the schema exists; then it serves', async () => {
      const app = await startTestApp({ store: new MySqlStore({ pool, table: name }) });
      try {
        const key = newKey();
        const headers = { 'idempotency-key': key, 'x-user': 'ann' };
        const answer = await postMutation(app.url, 'orders.create', { item: 'lamp' }, headers);
        expect(answer.status).toBe(503);
        expect(answer.error?.data.idempotency.code).toBe('STORE_UNAVAILABLE');
        const storeError = app.effects.events.find((event) => event.type === 'storeError');
        expect(storeError?.error).toBeInstanceOf(MySqlStoreSetupError);
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
