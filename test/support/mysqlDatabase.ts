import { randomUUID } from 'node:crypto';
import mysql from 'mysql2/promise';

/** The server the tests use when MYSQL_URL is not set: Debian's MariaDB service, root without a password. */
export const LOCAL_MYSQL = 'mysql://root@127.0.0.1:3306/mysql';

/** How to get MariaDB, for the message of a skipped test or a failed CI run. */
export const MYSQL_HINT =
  'Install and start MariaDB (Debian/Ubuntu: `apt-get install -y mariadb-server && service mariadb start`; ' +
  'macOS: `brew install mariadb && brew services start mariadb`), with user root and an empty password on ' +
  '127.0.0.1:3306, or set MYSQL_URL to a database the tests may create tables and procedures in.';

/** The database one test run uses. */
export interface MySqlDatabase {
  url: string;
  /** Drops the database this run created; a MYSQL_URL given by the user is left alone. */
  drop(): Promise<void>;
}

/**
 * For the global setup: with MYSQL_URL, that database (each test file makes and drops its own tables
 * there); otherwise a fresh database on the local server, dropped after the run. Without a server it
 * prints how to install one and returns undefined, so the MariaDB tests skip; under CI=true a missing
 * server fails the run.
 */
export async function openMySqlTestDatabase(): Promise<MySqlDatabase | undefined> {
  const given = process.env.MYSQL_URL;
  let admin: mysql.Connection;
  try {
    admin = await mysql.createConnection({ uri: given ?? LOCAL_MYSQL, connectTimeout: 3000 });
  } catch (error) {
    const where = given ? 'MYSQL_URL' : '127.0.0.1:3306';
    const message = `No MariaDB at ${where} (${(error as Error).message || (error as { code?: string }).code}). ${MYSQL_HINT}`;
    if (process.env.CI === 'true') throw new Error(message);
    console.warn(`\n[mysql] The MariaDB tests are skipped. ${message}\n`);
    return undefined;
  }
  if (given) {
    await admin.end();
    return { url: given, drop: async () => {} };
  }
  const name = `trpc_idem_test_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  await admin.query(`CREATE DATABASE ${name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
  await admin.end();
  const url = new URL(LOCAL_MYSQL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const dropper = await mysql.createConnection({ uri: LOCAL_MYSQL });
      await dropper.query(`DROP DATABASE IF EXISTS ${name}`);
      await dropper.end();
    },
  };
}
