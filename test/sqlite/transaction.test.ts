import type { TransactionalStore } from '@trpc-idempotency/server';
import { SqliteStore } from '@trpc-idempotency/sqlite';
import type Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postMutation } from '../support/app.js';
import { newKey } from '../support/backends.js';
import { openSqliteStore } from '../support/sqlite.js';
import { createSqliteLedger, type SqliteLedgerApp, startSqliteLedgerApp } from '../support/sqliteLedgerApp.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// docs/protocol.md §5: with transaction: true the handler's writes and the stored outcome commit together.
describe('transactional completion on SQLite', () => {
  let open: Awaited<ReturnType<typeof openSqliteStore>>;
  let app: SqliteLedgerApp;
  beforeAll(async () => {
    open = await openSqliteStore();
    createSqliteLedger(open.filename);
    app = await startSqliteLedgerApp({ store: open.store, filename: open.filename });
  });
  afterAll(async () => {
    await app?.close();
    await open?.remove();
  });

  const pay = (target: SqliteLedgerApp, key: string, input: Record<string, unknown>) =>
    postMutation(target.url, 'pay', { amount: 500, ...input }, { 'x-user': 'ann', 'idempotency-key': key });

  it('commits the handler’s row with the outcome, and replays it without a second row', async () => {
    const key = newKey();
    const first = await pay(app, key, { intent: key });
    expect(first.status).toBe(200);
    const again = await pay(app, key, { intent: key });
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.data).toEqual(first.data);
    expect(app.rowsOf(key)).toEqual([{ id: first.data.id, fence: 1, via: 'sqlite' }]);
  });

  it('runs 30 copies sent at once once, with one committed row; duplicates get 409 while it runs', async () => {
    const key = newKey();
    const answers = await Promise.all(Array.from({ length: 30 }, () => pay(app, key, { intent: key, sleepMs: 200 })));
    for (const answer of answers) expect([200, 409]).toContain(answer.status);
    expect(answers.filter((answer) => answer.status === 409).length).toBeGreaterThan(0);
    expect(app.runs.get(key)).toBe(1);
    expect(app.rowsOf(key)).toHaveLength(1);
  });

  it('runs the transactions of different keys one after the other, each committed with its outcome', async () => {
    const keys = [newKey(), newKey(), newKey()];
    const answers = await Promise.all(keys.map((key) => pay(app, key, { intent: key, sleepMs: 100 })));
    expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200]);
    for (const key of keys) expect(app.rowsOf(key)).toHaveLength(1);
  });

  it('rolls the row back when the handler crashes, and the retry runs again', async () => {
    const key = newKey();
    expect((await pay(app, key, { intent: key, fail: 'crash' })).status).toBe(500);
    expect(app.rowsOf(key)).toEqual([]);
    expect((await pay(app, key, { intent: key, fail: 'crash' })).status).toBe(500);
    expect(app.runs.get(key)).toBe(2);
    expect(app.rowsOf(key)).toEqual([]);
  });

  it('rolls the row back for a 4xx the handler threw on purpose, and stores and replays that 4xx', async () => {
    const key = newKey();
    expect((await pay(app, key, { intent: key, fail: 'bad_request' })).status).toBe(400);
    const replay = await pay(app, key, { intent: key, fail: 'bad_request' });
    expect(replay.status).toBe(400);
    expect(replay.error?.message).toBe('card declined');
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(app.runs.get(key)).toBe(1);
    expect(app.rowsOf(key)).toEqual([]);
  });

  it('answers 500 and frees the key when SQLite rolled the handler’s transaction back; the retry commits one row', async () => {
    const key = newKey();
    const broken = await pay(app, key, { intent: key, fail: 'break_transaction_once' });
    expect(broken.status).toBe(500);
    expect(app.rowsOf(key)).toEqual([]);
    const retry = await pay(app, key, { intent: key, fail: 'break_transaction_once' });
    expect(retry.status).toBe(200);
    expect(retry.data.fence).toBe(2);
    expect(app.rowsOf(key)).toHaveLength(1);
  });

  it('never commits a holder that lost its lease: its row rolls back, and the newer holder’s row is the only one', async () => {
    let staleToken: string | undefined;
    // Renewals that fail for the first holder only: its lease runs out while its transaction is open.
    const store: TransactionalStore<Database.Database> = {
      claim: (request) => open.store.claim(request),
      complete: (request) => open.store.complete(request),
      release: (request) => open.store.release(request),
      claimInTransaction: (request) => {
        staleToken ??= request.token;
        return open.store.claimInTransaction(request);
      },
      renewLease: (request) =>
        request.token === staleToken
          ? Promise.reject(new Error('renewal lost in the network'))
          : open.store.renewLease(request),
    };
    const flaky = await startSqliteLedgerApp({ store, filename: open.filename, leaseMs: 300 });
    try {
      const key = newKey();
      const stale = pay(flaky, key, { intent: key, sleepMs: 1000 });
      await sleep(500);
      // The newer claim waits for the stale holder's transaction (SQLite has one writer), then takes over.
      const newer = await pay(flaky, key, { intent: key, sleepMs: 1000 });
      expect(newer.status).toBe(200);
      expect(newer.data.fence).toBe(2);

      const staleAnswer = await stale;
      expect(staleAnswer.status).toBe(409);
      expect(staleAnswer.error?.data.idempotency.code).toBe('IN_PROGRESS');
      expect(flaky.runs.get(key)).toBe(2);
      expect(flaky.rowsOf(key)).toEqual([{ id: newer.data.id, fence: 2, via: 'sqlite' }]);

      const replay = await pay(flaky, key, { intent: key, sleepMs: 1000 });
      expect(replay.headers.get('idempotent-replayed')).toBe('true');
      expect(replay.data).toEqual(newer.data);
    } finally {
      await flaky.close();
    }
  });
});

describe('a transaction that outlives transactionTimeoutMs', () => {
  let open: Awaited<ReturnType<typeof openSqliteStore>>;
  let store: SqliteStore;
  beforeAll(async () => {
    open = await openSqliteStore({ transactionTimeoutMs: 300 });
    store = open.store;
    createSqliteLedger(open.filename);
  });
  afterAll(async () => {
    await open?.remove();
  });

  it('is rolled back and its lease released, so the write lock is free again and a retry runs at once', async () => {
    const app = await startSqliteLedgerApp({ store, filename: open.filename });
    try {
      const key = newKey();
      const slow = { intent: key, amount: 1, sleepMs: 700 };
      const headers = { 'x-user': 'ann', 'idempotency-key': key };
      const answer = await postMutation(app.url, 'pay', slow, headers);
      expect(answer.status).toBe(409);
      expect(app.rowsOf(key)).toEqual([]);
      // Another key commits at once: the lock was given back when the transaction was rolled back.
      const other = newKey();
      const quick = await postMutation(
        app.url,
        'pay',
        { intent: other, amount: 1 },
        { ...headers, 'idempotency-key': other },
      );
      expect(quick.status).toBe(200);
      expect(app.rowsOf(other)).toHaveLength(1);
      // The lease was released (the handler began): the retry runs again without waiting for it to run out.
      expect((await postMutation(app.url, 'pay', slow, headers)).status).toBe(409);
      expect(app.runs.get(key)).toBe(2);
      expect(app.rowsOf(key)).toEqual([]);
    } finally {
      await app.close();
    }
  });
});

describe('two SqliteStores on one file in one process', () => {
  let open: Awaited<ReturnType<typeof openSqliteStore>>;
  afterAll(async () => {
    await open?.remove();
  });

  it('share its write lock: a claim of the second waits for the first one’s transaction without blocking the loop', async () => {
    open = await openSqliteStore();
    const second = await new SqliteStore({ filename: open.filename }).ready();
    try {
      const base = { fingerprint: 'f', leaseMs: 5000, retentionMs: 60_000 };
      const held = await open.store.claimInTransaction({ ...base, recordKey: newKey(), token: 'a' });
      if (held.status !== 'claimed') throw new Error(`expected claimed, got ${held.status}`);
      let settled = false;
      const waiting = second.claim({ ...base, recordKey: newKey(), token: 'b' }).finally(() => {
        settled = true;
      });
      const started = performance.now();
      await sleep(100);
      // The timer fired on time: nothing blocked the thread in SQLite's busy handler.
      expect(performance.now() - started).toBeLessThan(400);
      expect(settled).toBe(false);
      expect(await held.transaction.commit({ outcome: 'done', retentionMs: 60_000 })).toBe(true);
      expect(await waiting).toEqual({ status: 'claimed', fence: 1 });
    } finally {
      await second.close();
    }
  });
});
