import { fileURLToPath } from 'node:url';
import { PostgresStoreSetupError } from '@trpc-idempotency/postgres';
import { drainIdempotency } from '@trpc-idempotency/server';
import { SqliteStoreSetupError } from '@trpc-idempotency/sqlite';
import { startExampleServer } from './exampleServer.js';
import { describeUrl } from './postgresBackends.js';

const port = Number(process.env.PORT ?? 3000);
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
  console.error(`PORT must be a port number, got "${process.env.PORT}".`);
  process.exit(1);
}

// Set by `npm start` (scripts/start.ts): the chaos panel and its endpoints exist only in the demo.
const demo = process.env.TRPC_IDEMPOTENCY_DEMO === '1';

// Where the data goes: DATABASE_URL (PostgreSQL), else REDIS_URL, else a SQLite file, so that a restart
// keeps the ledger and the idempotency records; EXAMPLE_STORE=memory keeps everything in this process.
const { DATABASE_URL: databaseUrl, REDIS_URL: redisUrl, EXAMPLE_STORE: storeChoice } = process.env;
if (storeChoice !== undefined && storeChoice !== '' && storeChoice !== 'memory' && storeChoice !== 'sqlite') {
  console.error(`EXAMPLE_STORE must be "sqlite" (the default) or "memory", got "${storeChoice}".`);
  process.exit(1);
}
/** The default SQLite file, in the example's own git-ignored data folder. */
const DEFAULT_SQLITE_FILE = fileURLToPath(new URL('../../.data/payments.db', import.meta.url));
const sqliteFile = storeChoice === 'memory' ? undefined : process.env.SQLITE_FILE || DEFAULT_SQLITE_FILE;

const server = await startExampleServer({
  port,
  host: process.env.HOST,
  databaseUrl,
  redisUrl,
  sqliteFile,
  demo,
}).catch((error: NodeJS.ErrnoException) => {
  if (error.code === 'EADDRINUSE') console.error(`Port ${port} is in use. Start on another one: PORT=3001 npm start`);
  else if (databaseUrl) {
    // PostgresStoreSetupError says what is wrong in its code: CONNECTION_FAILED, SCHEMA_NEWER, ...
    const code = error instanceof PostgresStoreSetupError ? `${error.code}: ` : '';
    console.error(`Could not start with DATABASE_URL (${describeUrl(databaseUrl)}): ${code}${error.message}`);
  } else if (redisUrl) console.error(`Could not start with REDIS_URL=${redisUrl}: ${error.message}`);
  else if (sqliteFile) {
    // SqliteStoreSetupError says what is wrong in its code: OPEN_FAILED, SCHEMA_NEWER, ...
    const code = error instanceof SqliteStoreSetupError ? `${error.code}: ` : '';
    console.error(
      `Could not start with the SQLite file ${sqliteFile}: ${code}${error.message} (EXAMPLE_STORE=memory starts without it)`,
    );
  } else console.error(error);
  process.exit(1);
});
console.log(
  `trpc-idempotency example (data in ${server.where}${server.demo ? ', demo with chaos panel' : ''}) is running at ${server.url}`,
);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, async () => {
    // Payments in flight finish and settle their keys; new ones get 503 SERVER_DRAINING and retry elsewhere.
    const report = await drainIdempotency({ timeoutMs: 10_000 });
    if (report.released.length + report.unsettled.length > 0) console.warn('Idempotency drain left:', report);
    void server.close().finally(() => process.exit(0));
  });
}
