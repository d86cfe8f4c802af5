import { SqliteStore } from '@trpc-idempotency/sqlite';
import { afterAll, describe, expect, it } from 'vitest';
import { postMutation, startTestApp } from '../support/app.js';
import { newKey } from '../support/backends.js';
import { openSqliteStore } from '../support/sqlite.js';
import { createSqliteLedger, startSqliteLedgerApp } from '../support/sqliteLedgerApp.js';

// The reason to pick SqliteStore over MemoryStore: a restart forgets nothing.
describe('a SqliteStore reopened on the same file', () => {
  let open: Awaited<ReturnType<typeof openSqliteStore>>;
  afterAll(async () => {
    await open?.remove();
  });

  it('keeps its records: a key completed before the restart is replayed after it, the handler not run again', async () => {
    open = await openSqliteStore();
    createSqliteLedger(open.filename);
    const key = newKey();
    const headers = { 'x-user': 'ann', 'idempotency-key': key };

    const before = await startTestApp({ store: open.store });
    const first = await postMutation(before.url, 'orders.create', { item: 'lamp' }, headers);
    expect(first.status).toBe(200);
    const payKey = newKey();
    const ledgerBefore = await startSqliteLedgerApp({ store: open.store, filename: open.filename });
    const paid = await postMutation(
      ledgerBefore.url,
      'pay',
      { intent: payKey, amount: 500 },
      { ...headers, 'idempotency-key': payKey },
    );
    expect(paid.status).toBe(200);
    await before.close();
    await ledgerBefore.close();
    await open.store.close();

    const reopened = await new SqliteStore({ filename: open.filename }).ready();
    const after = await startTestApp({ store: reopened });
    const ledgerAfter = await startSqliteLedgerApp({ store: reopened, filename: open.filename });
    try {
      const again = await postMutation(after.url, 'orders.create', { item: 'lamp' }, headers);
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      expect(again.data).toEqual(first.data);
      expect(after.runsOf('ann', key)).toBe(0);

      const repaid = await postMutation(
        ledgerAfter.url,
        'pay',
        { intent: payKey, amount: 500 },
        { ...headers, 'idempotency-key': payKey },
      );
      expect(repaid.headers.get('idempotent-replayed')).toBe('true');
      expect(repaid.data).toEqual(paid.data);
      expect(ledgerAfter.runs.get(payKey)).toBeUndefined();
      expect(ledgerAfter.rowsOf(payKey)).toEqual([{ id: paid.data.id, fence: 1, via: 'sqlite' }]);
    } finally {
      await after.close();
      await ledgerAfter.close();
      await reopened.close();
    }
  });
});
