import { randomUUID } from 'node:crypto';
import pg from 'pg';

/** The server the tests use when DATABASE_URL is not set: Debian's service, trust auth for the postgres user. */
export const LOCAL_POSTGRES = 'postgres://postgres@127.0.0.1:5432/postgres';

/** How to get PostgreSQL, for the message of a skipped test or a failed CI run. */
export const POSTGRES_HINT =
  'Install and start PostgreSQL (Debian/Ubuntu: `apt-get install -y postgresql && pg_ctlcluster 15 main start`; ' +
  'macOS: `brew install postgresql@15 && brew services start postgresql@15`), with trust auth for the postgres ' +
  'user on 127.0.0.1:5432, or set DATABASE_URL to a database the tests may create tables in.';

/** The database one test run uses. */
export interface PostgresDatabase {
  url: string;
  /** Drops the database this run created; a DATABASE_URL given by the user is left alone. */
  drop(): Promise<void>;
}

/**
 * For the global setup: with DATABASE_URL, that database (each test file makes and drops its own tables
 * there); otherwise a fresh database on the local server, dropped after the run. Without a server it
 * prints how to install one and returns undefined, so the PostgreSQL tests skip; under CI=true a missing
 * server fails the run.
 */
export async function openTestDatabase(): Promise<PostgresDatabase | undefined> {
  const given = process.env.DATABASE_URL;
  const admin = new pg.Client({ connectionString: given ?? LOCAL_POSTGRES, connectionTimeoutMillis: 3000 });
  try {
    await admin.connect();
  } catch (error) {
    const where = given ? 'DATABASE_URL' : '127.0.0.1:5432';
    const message = `No PostgreSQL at ${where} (${(error as Error).message || (error as { code?: string }).code}). ${POSTGRES_HINT}`;
    if (process.env.CI === 'true') throw new Error(message);
    console.warn(`\n[postgres] The PostgreSQL tests are skipped. ${message}\n`);
    return undefined;
  }
  if (given) {
    await admin.end();
    return { url: given, drop: async () => {} };
  }
  const name = `trpc_idem_test_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(LOCAL_POSTGRES);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const dropper = new pg.Client({ connectionString: LOCAL_POSTGRES });
      await dropper.connect();
      await dropper.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await dropper.end();
    },
  };
}
