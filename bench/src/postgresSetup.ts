import { createSchema } from '@trpc-idempotency/postgres';
import pg from 'pg';
import { postgresBin, startPostgresCluster } from '../../test/support/postgresCluster';

/** The table the write scenarios insert their order rows into. */
export const ORDERS_TABLE = 'bench_orders';

/** The PostgreSQL one benchmark run uses: a private cluster that counts statements. */
export interface BenchPostgres {
  url: string;
  version: string;
  /** Top-level statements the server ran since the last reset, from pg_stat_statements (this reader's own left out). */
  statements(): Promise<{ total: number; byQuery: Record<string, number> }>;
  resetStatements(): Promise<void>;
  stop(): Promise<void>;
}

const OWN_QUERIES = /pg_stat_statements/;

/**
 * Starts a private cluster with pg_stat_statements (defaults otherwise: fsync and synchronous_commit on),
 * creates the store's schema and the orders table. Undefined, with a message, when PostgreSQL is missing.
 */
export async function setUpPostgres(): Promise<BenchPostgres | undefined> {
  if (!postgresBin()) {
    console.log('skipped the PostgresStore scenarios: PostgreSQL is not installed (apt-get install -y postgresql)');
    return undefined;
  }
  const cluster = await startPostgresCluster({
    shared_preload_libraries: 'pg_stat_statements',
    'pg_stat_statements.track_utility': 'on',
    max_connections: '300',
  });
  const admin = new pg.Pool({ connectionString: cluster.url, max: 2 });
  await admin.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
  await createSchema(admin);
  await admin.query(
    `CREATE TABLE ${ORDERS_TABLE} (id bigserial PRIMARY KEY, item text NOT NULL, qty int NOT NULL, note text NOT NULL, fence bigint)`,
  );
  const version = (await admin.query<{ server_version: string }>('SHOW server_version')).rows[0]!.server_version;
  return {
    url: cluster.url,
    version,
    async statements() {
      const { rows } = await admin.query<{ query: string; calls: string }>(
        'SELECT query, calls FROM pg_stat_statements WHERE toplevel',
      );
      const byQuery: Record<string, number> = {};
      let total = 0;
      for (const row of rows) {
        if (OWN_QUERIES.test(row.query)) continue;
        const name = row.query.replace(/\s+/g, ' ').slice(0, 60);
        byQuery[name] = (byQuery[name] ?? 0) + Number(row.calls);
        total += Number(row.calls);
      }
      return { total, byQuery };
    },
    async resetStatements() {
      await admin.query('SELECT pg_stat_statements_reset()');
    },
    async stop() {
      await admin.end();
      await cluster.stop();
    },
  };
}
