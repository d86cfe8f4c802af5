import { randomUUID } from 'node:crypto';
import { createSchema, PostgresStore } from '@trpc-idempotency/postgres';
import pg from 'pg';

export { LOCAL_POSTGRES, POSTGRES_HINT } from './postgresDatabase.js';

/** A pool on the test database, with short timeouts so a missing server fails fast. */
export function testPool(url: string, max = 10): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max, connectionTimeoutMillis: 5000 });
  pool.on('error', () => {}); // a server the test stops on purpose
  return pool;
}

/** A fresh table name, so that test files sharing one database never meet. */
export function testTable(label = 'idem'): string {
  return `${label}_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
}

/** Creates a store on its own table; `drop` removes the table and its functions again. */
export async function openPostgresStore(
  url: string,
  options: { timeoutMs?: number; poolSize?: number } = {},
): Promise<{ store: PostgresStore; pool: pg.Pool; table: string; drop(): Promise<void> }> {
  const pool = testPool(url, options.poolSize ?? 20);
  const table = testTable();
  await createSchema(pool, { table });
  const store = await new PostgresStore({ pool, table, timeoutMs: options.timeoutMs }).ready();
  return {
    store,
    pool,
    table,
    async drop() {
      await dropSchema(pool, table).catch(() => {});
      await pool.end();
    },
  };
}

/** Drops a PostgresStore table and its functions. */
export async function dropSchema(pool: pg.Pool | pg.Client, table: string): Promise<void> {
  const fns = ['claim', 'complete', 'release', 'renew_lease', 'schema_version'].map((fn) => `${table}_${fn}`);
  await pool.query(`DROP TABLE IF EXISTS ${table}; ${fns.map((fn) => `DROP FUNCTION IF EXISTS ${fn};`).join(' ')}`);
}
