import type { TransactionalStore } from '@trpc-idempotency/server';
import type mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { postMutation } from '../support/app.js';
import { newKey } from '../support/backends.js';
import { MYSQL_HINT, openMySqlStore } from '../support/mysql.js';
import { createMySqlLedger, type MySqlLedgerApp, startMySqlLedgerApp } from '../support/mysqlLedgerApp.js';

const url = inject('mysqlUrl');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
if (!url) console.warn(`test/mysql/transaction.test.ts skipped: no MariaDB. ${MYSQL_HINT}`);

// docs/protocol.md §5: with transaction: true the handler's writes and the stored outcome commit together.
describe.skipIf(!url)('transactional completion on MariaDB (InnoDB)', () => {
  let open: Awaited<ReturnType<typeof openMySqlStore>>;
  let ledger: string;
  let app: MySqlLedgerApp;
  beforeAll(async () => {
    open = await openMySqlStore(url!);
    ledger = await createMySqlLedger(open.pool);
    app = await startMySqlLedgerApp({ store: open.store, pool: open.pool, ledger });
  });
  afterAll(async () => {
    await app?.close();
    await open?.pool.query(`DROP TABLE IF EXISTS ${ledger}`);
    await open?.drop();
  });

  const pay = (target: MySqlLedgerApp, key: string, input: Record<string, unknown>) =>
    postMutation(target.url, 'pay', { amount: 500, ...input }, { 'x-user': 'ann', 'idempotency-key': key });

  it('commits the handler’s row with the outcome, and replays it without a second row', async () => {
    const key = newKey();
    const first = await pay(app, key, { intent: key });
    expect(first.status).toBe(200);
    const again = await pay(app, key, { intent: key });
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.data).toEqual(first.data);
    expect(await app.rowsOf(key)).toEqual([{ id: first.data.id, fence: 1 }]);
  });

  it('runs 30 copies sent at once once, with one committed row', async () => {
    const key = newKey();
    const answers = await Promise.all(Array.from({ length: 30 }, () => pay(app, key, { intent: key, sleepMs: 200 })));
    for (const answer of answers) expect([200, 409]).toContain(answer.status);
    expect(app.runs.get(key)).toBe(1);
    expect(await app.rowsOf(key)).toHaveLength(1);
  });

  it('rolls the row back when the handler crashes, and the retry runs again', async () => {
    const key = newKey();
    expect((await pay(app, key, { intent: key, fail: 'crash' })).status).toBe(500);
    expect(await app.rowsOf(key)).toEqual([]);
    expect((await pay(app, key, { intent: key, fail: 'crash' })).status).toBe(500);
    expect(app.runs.get(key)).toBe(2);
    expect(await app.rowsOf(key)).toEqual([]);
  });

  it('rolls the row back for a 4xx the handler threw on purpose, and stores and replays that 4xx', async () => {
    const key = newKey();
    expect((await pay(app, key, { intent: key, fail: 'bad_request' })).status).toBe(400);
    const replay = await pay(app, key, { intent: key, fail: 'bad_request' });
    expect(replay.status).toBe(400);
    expect(replay.error?.message).toBe('card declined');
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(app.runs.get(key)).toBe(1);
    expect(await app.rowsOf(key)).toEqual([]);
  });

  it('completes nothing when the handler ended its own transaction: 500, the key is free, the retry commits one row', async () => {
    const key = newKey();
    const broken = await pay(app, key, { intent: key, fail: 'rollback_once' });
    expect(broken.status).toBe(500);
    expect(await app.rowsOf(key)).toEqual([]);
    const retry = await pay(app, key, { intent: key, fail: 'rollback_once' });
    expect(retry.status).toBe(200);
    expect(retry.data.fence).toBe(2);
    expect(await app.rowsOf(key)).toEqual([{ id: retry.data.id, fence: 2 }]);
  });

  it('never commits a holder that lost its lease: its row rolls back, and the newer holder’s row is the only one', async () => {
    let failRenewals = true;
    // A fault the real database cannot be made to produce on cue: renewals that fail for the first holder only.
    const store: TransactionalStore<mysql.PoolConnection> = {
      claim: (request) => open.store.claim(request),
      complete: (request) => open.store.complete(request),
      release: (request) => open.store.release(request),
      claimInTransaction: (request) => open.store.claimInTransaction(request),
      renewLease: (request) =>
        failRenewals ? Promise.reject(new Error('renewal lost in the network')) : open.store.renewLease(request),
    };
    const flaky = await startMySqlLedgerApp({ store, pool: open.pool, ledger, leaseMs: 300 });
    try {
      const key = newKey();
      const stale = pay(flaky, key, { intent: key, sleepMs: 1200 });
      await sleep(600);
      failRenewals = false;
      const newer = await pay(flaky, key, { intent: key, sleepMs: 1200 });
      expect(newer.status).toBe(200);
      expect(newer.data.fence).toBe(2);

      // The stale holder wrote its row before it lost the lease, and tries to commit after the takeover.
      const staleAnswer = await stale;
      expect(staleAnswer.status).toBe(409);
      expect(staleAnswer.error?.data.idempotency.code).toBe('IN_PROGRESS');
      expect(flaky.runs.get(key)).toBe(2);
      expect(await flaky.rowsOf(key)).toEqual([{ id: newer.data.id, fence: 2 }]);
      expect(flaky.events.filter((event) => event.type === 'leaseLost').map((event) => event.fence)).toContain(1);

      const replay = await pay(flaky, key, { intent: key, sleepMs: 1200 });
      expect(replay.headers.get('idempotent-replayed')).toBe('true');
      expect(replay.data).toEqual(newer.data);
    } finally {
      await flaky.close();
    }
  });
});
