/*
 * One server of `npm run bench:sql`: a tRPC standalone HTTP server with the one procedure of its variant, on
 * MySqlStore (MariaDB) or SqliteStore, in a process of its own. The runner talks to it over the fork IPC
 * channel (sqlStoresHandle.ts). The driver counters go in first, so that they see every connection.
 */
import type { AddressInfo } from 'node:net';
import { createHTTPServer } from '@trpc/server/adapters/standalone';
import { MySqlStore } from '@trpc-idempotency/mysql';
import { SqliteStore } from '@trpc-idempotency/sqlite';
import Database from 'better-sqlite3';
import mysql from 'mysql2/promise';
import { createContext } from './app';
import { installDriverCounters } from './sqlStoresCounting';
import type { SqlServerConfig, SqlServerReply, SqlServerRequest } from './sqlStoresHandle';
import { buildSqlBenchRouter } from './sqlStoresRouter';
import { ORDERS_TABLE } from './sqlStoresVariants';

const counts = installDriverCounters();
const config = JSON.parse(process.env.SQL_BENCH_SERVER_CONFIG ?? '{}') as SqlServerConfig;
let runs = 0;
let requests = 0;
const onRun = () => {
  runs++;
};

/** The router and how to close its connections. */
async function open(): Promise<{ router: ReturnType<typeof buildSqlBenchRouter>; close: () => Promise<void> }> {
  if (config.database === 'mariadb') {
    // Enough connections that no request waits for one: a transactional handler holds one while it runs.
    const pool = mysql.createPool({ uri: config.mysqlUrl, connectionLimit: 100 });
    const store = await new MySqlStore({ pool }).ready();
    const insert = `INSERT INTO ${ORDERS_TABLE} (item, qty, note, fence) VALUES (?, ?, ?, ?)`;
    const router = buildSqlBenchRouter(
      config.variant,
      store,
      {
        plain: async (order, fence) => {
          const [result] = await pool.query<mysql.ResultSetHeader>(insert, [order.item, order.qty, order.note, fence]);
          return result.insertId;
        },
        inTransaction: async (tx, order, fence) => {
          const [result] = await tx.query<mysql.ResultSetHeader>(insert, [order.item, order.qty, order.note, fence]);
          return result.insertId;
        },
      },
      onRun,
    );
    return { router, close: () => pool.end() };
  }
  const filename = config.sqliteFile!;
  const store = await new SqliteStore({ filename }).ready();
  // The app's own connection, set up as the store sets up its own: WAL, every commit synced (synchronous FULL).
  const db = new Database(filename, { timeout: 1000 });
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  const insert = `INSERT INTO ${ORDERS_TABLE} (item, qty, note, fence) VALUES (?, ?, ?, ?)`;
  const insertOrder = db.prepare(insert);
  const router = buildSqlBenchRouter(
    config.variant,
    store,
    {
      plain: (order, fence) => Number(insertOrder.run(order.item, order.qty, order.note, fence).lastInsertRowid),
      // The handler's connection is new for every transaction, so its statement is prepared on it each time.
      inTransaction: (tx, order, fence) =>
        Number(tx.prepare(insert).run(order.item, order.qty, order.note, fence).lastInsertRowid),
    },
    onRun,
  );
  return {
    router,
    close: async () => {
      await store.close();
      db.close();
    },
  };
}

const { router, close } = await open();
const server = createHTTPServer({ router, createContext });
server.on('request', () => {
  requests++;
});

function send(message: SqlServerReply): void {
  process.send?.(message);
}

process.on('message', (message: SqlServerRequest) => {
  if (message.type === 'stats') {
    const { user, system } = process.cpuUsage();
    send({
      type: 'stats',
      requests,
      runs,
      cpuUs: user + system,
      mysqlCommands: { ...counts.mysqlCommands },
      sqliteStatements: { ...counts.sqliteStatements },
      sqliteCompiled: counts.sqliteCompiled,
      sqliteClosed: counts.sqliteClosed,
      sqliteWriteCommits: counts.sqliteWriteCommits,
    });
  } else if (message.type === 'exit') {
    server.closeAllConnections?.();
    server.close();
    void close().finally(() => setImmediate(() => process.exit(0)));
  }
});
process.on('disconnect', () => process.exit(0));

server.listen(0, '127.0.0.1', () => {
  send({ type: 'ready', port: (server.address() as AddressInfo).port });
});
