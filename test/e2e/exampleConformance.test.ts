import { startHonoExample } from '../../examples/hono-fetch/src/app.js';
import { startExampleServer } from '../../examples/react-node/server/src/exampleServer.js';
import { dropSchema, testPool, testTable } from '../support/postgres.js';
import { describeExampleConformance } from './support/conformance.js';

// Both examples keep the same HTTP contract: the Node one on tRPC's standalone adapter, the Hono one on
// its fetch adapter. Each is started in this process on a free port, in memory and on the test Redis; the
// Node one on the test PostgreSQL too, with tables of its own that it drops when it stops, and in a SQLite
// file of its own (what `npm start` uses by default).

describeExampleConformance(
  'the react-node example (Node adapter)',
  async ({ redisUrl, databaseUrl, sqliteFile }) => {
    const tables = { store: testTable('idem'), ledger: testTable('ledger') };
    const server = await startExampleServer({
      port: 0,
      ...(redisUrl ? { redisUrl } : {}),
      ...(databaseUrl ? { databaseUrl, postgresTables: tables } : {}),
      ...(sqliteFile ? { sqliteFile } : {}),
    });
    return {
      ...server,
      // Loopback by address: "localhost" may resolve to ::1 first, where the server does not listen.
      url: server.url.replace('//localhost:', '//127.0.0.1:'),
      close: async () => {
        await server.close();
        if (!databaseUrl) return;
        const pool = testPool(databaseUrl, 1);
        await dropSchema(pool, tables.store);
        await pool.query(`DROP TABLE IF EXISTS ${tables.ledger}`);
        await pool.end();
      },
    };
  },
  ['memory', 'redis', 'postgres', 'sqlite'],
);

describeExampleConformance('the hono-fetch example (fetch adapter)', ({ redisUrl }) =>
  startHonoExample({ port: 0, ...(redisUrl ? { redisUrl } : {}) }),
);
