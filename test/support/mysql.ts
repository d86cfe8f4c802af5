import { createSchema, MySqlStore } from '@trpc-idempotency/mysql';
import mysql from 'mysql2/promise';
import { testTable } from './postgres.js';

export { LOCAL_MYSQL, MYSQL_HINT } from './mysqlDatabase.js';
export { testTable };

/** A pool on the test database, with short timeouts so a missing server fails fast. */
export function testMySqlPool(url: string, connectionLimit = 10): mysql.Pool {
  return mysql.createPool({ uri: url, connectionLimit, connectTimeout: 5000 });
}

/** Creates a store on its own table; `drop` removes the table and its routines again. */
export async function openMySqlStore(
  url: string,
  options: { timeoutMs?: number; poolSize?: number } = {},
): Promise<{ store: MySqlStore; pool: mysql.Pool; table: string; drop(): Promise<void> }> {
  const pool = testMySqlPool(url, options.poolSize ?? 20);
  const table = testTable();
  await createSchema(pool, { table });
  const store = await new MySqlStore({ pool, table, timeoutMs: options.timeoutMs }).ready();
  return {
    store,
    pool,
    table,
    async drop() {
      await dropMySqlSchema(pool, table).catch(() => {});
      await pool.end();
    },
  };
}

/** Drops a MySqlStore table and its routines. */
export async function dropMySqlSchema(pool: mysql.Pool | mysql.Connection, table: string): Promise<void> {
  await pool.query(`DROP TABLE IF EXISTS ${table}`);
  for (const name of ['claim', 'sweep', 'complete', 'commit_complete', 'release', 'renew_lease']) {
    await pool.query(`DROP PROCEDURE IF EXISTS ${table}_${name}`);
  }
  await pool.query(`DROP FUNCTION IF EXISTS ${table}_schema_version`);
}
