import { createSchema, MySqlStore } from '@trpc-idempotency/mysql';
import type mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { postMutation, startTestApp } from '../support/app.js';
import { newKey } from '../support/backends.js';
import { dropMySqlSchema, MYSQL_HINT, testMySqlPool, testTable } from '../support/mysql.js';
import { createMySqlLedger, startMySqlLedgerApp } from '../support/mysqlLedgerApp.js';
import { startTcpProxy, type TcpProxy } from '../support/tcpProxy.js';

const url = inject('mysqlUrl');
const TIMEOUT_MS = 500;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
if (!url) console.warn(`test/mysql/outage.test.ts skipped: no MariaDB. ${MYSQL_HINT}`);

/** Retries a request until it is no longer 409 (a late claim's lease is being let go), for up to 10 s. */
async function untilNotInProgress(send: () => ReturnType<typeof postMutation>) {
  for (let attempt = 0; ; attempt++) {
    const answer = await send();
    if (answer.status !== 409 || attempt > 100) return answer;
    await sleep(100);
  }
}

// A silent link is a fault a real server cannot be made to produce on its own, so a TCP proxy in front of
// MariaDB makes it, as the PostgreSQL and Redis outage tests do; closing the proxy stands for a server that is down.
describe.skipIf(!url)('MariaDB that hangs or is down', () => {
  let proxy: TcpProxy;
  let direct: mysql.Pool;
  let viaProxy: mysql.Pool;
  let table: string;
  beforeAll(async () => {
    const target = new URL(url!);
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 3306) });
    const proxied = new URL(url!);
    proxied.hostname = proxy.host;
    proxied.port = String(proxy.port);
    direct = testMySqlPool(url!);
    viaProxy = testMySqlPool(proxied.toString());
    table = testTable();
    await createSchema(direct, { table });
  });
  afterAll(async () => {
    proxy.resume();
    await viaProxy.end().catch(() => {});
    await proxy.close();
    await dropMySqlSchema(direct, table);
    await direct.end();
  });

  it('answers 503 STORE_UNAVAILABLE while the link is silent, before it comes back, and a later retry runs once', async () => {
    const app = await startTestApp({ store: new MySqlStore({ pool: viaProxy, table, timeoutMs: TIMEOUT_MS }) });
    try {
      const headers = { 'idempotency-key': newKey(), 'x-user': 'ann' };
      expect(
        (await postMutation(app.url, 'orders.create', { item: 'warm-up' }, { ...headers, 'idempotency-key': newKey() }))
          .status,
      ).toBe(200);
      proxy.pause();
      let back = false;
      const thaw = sleep(2000).then(() => {
        back = true;
        proxy.resume();
      });
      const answer = await postMutation(app.url, 'orders.create', { item: 'lamp' }, headers);
      expect(back).toBe(false);
      expect(answer.status).toBe(503);
      expect(answer.error?.data.idempotency.code).toBe('STORE_UNAVAILABLE');
      await thaw;
      // The claim that timed out ran once the link came back; the store let go of it, so the retry runs.
      const retry = await untilNotInProgress(() => postMutation(app.url, 'orders.create', { item: 'lamp' }, headers));
      expect(retry.status).toBe(200);
      expect(app.runsOf('ann', headers['idempotency-key'])).toBe(1);
    } finally {
      proxy.resume();
      await app.close();
    }
  });

  it('with transaction: true, a commit that hangs answers 503, and afterwards the intent has exactly one row, the one its retry returns', async () => {
    const ledger = await createMySqlLedger(direct);
    const store = new MySqlStore({ pool: viaProxy, table, timeoutMs: TIMEOUT_MS });
    const app = await startMySqlLedgerApp({ store, pool: direct, ledger, leaseMs: 2000 });
    try {
      const key = newKey();
      const send = () =>
        postMutation(
          app.url,
          'pay',
          { intent: key, amount: 100, sleepMs: 300 },
          { 'idempotency-key': key, 'x-user': 'ann' },
        );
      const first = send();
      await sleep(150); // inside the handler, before its commit
      proxy.pause();
      const answer = await first;
      expect(answer.status).toBe(503);
      expect(answer.error?.data.idempotency.code).toBe('STORE_UNAVAILABLE');
      proxy.resume();
      // Whether the commit happened is unknown to the caller; either way the record and the row agree:
      // the retry replays the committed row, or runs again once the lease is over and commits its own.
      const retry = await untilNotInProgress(send);
      expect(retry.status).toBe(200);
      const rows = await app.rowsOf(key);
      expect(rows.map((row) => row.id)).toEqual([retry.data.id]);
    } finally {
      proxy.resume();
      await app.close();
      await direct.query(`DROP TABLE IF EXISTS ${ledger}`);
    }
  });

  it('answers 503 STORE_UNAVAILABLE at once when nothing listens any more', async () => {
    await proxy.close();
    const pool = testMySqlPool(`mysql://root@127.0.0.1:${proxy.port}/mysql`);
    const app = await startTestApp({ store: new MySqlStore({ pool, table, timeoutMs: TIMEOUT_MS }) });
    try {
      const key = newKey();
      const answer = await postMutation(
        app.url,
        'orders.create',
        { item: 'lamp' },
        { 'idempotency-key': key, 'x-user': 'ann' },
      );
      expect(answer.status).toBe(503);
      expect(answer.error?.data.idempotency.code).toBe('STORE_UNAVAILABLE');
      expect(app.runsOf('ann', key)).toBe(0);
    } finally {
      await app.close();
      await pool.end();
    }
  });
});
