import type { TransactionalStore } from '@trpc-idempotency/server';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { postMutation } from '../support/app.js';
import { newKey } from '../support/backends.js';
import { createLedger, type LedgerApp, startLedgerApp } from '../support/ledgerApp.js';
import { openPostgresStore, POSTGRES_HINT } from '../support/postgres.js';

const url = inject('postgresUrl');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
if (!url) console.warn(`test/postgres/transactionWait.test.ts skipped: no PostgreSQL. ${POSTGRES_HINT}`);

/** A re-read so slow that only a wake-up (the commit's pg_notify, heard on the store's LISTEN) answers fast. */
const REREAD_MS = 5000;

/** The store, with every claim (in or out of a transaction) counted. */
function countingClaims(store: TransactionalStore<pg.PoolClient>) {
  let claims = 0;
  const counted: TransactionalStore<pg.PoolClient> = {
    claim: (request) => {
      claims++;
      return store.claim(request);
    },
    claimInTransaction: (request) => {
      claims++;
      return store.claimInTransaction(request);
    },
    complete: (request) => store.complete(request),
    release: (request) => store.release(request),
    renewLease: (request) => store.renewLease(request),
    watch: store.watch ? (recordKey) => store.watch!(recordKey) : undefined,
  };
  return { store: counted, claims: () => claims };
}

// docs/protocol.md §3 and §5: with transaction: true the completion commits with the handler's writes,
// and its announcement (delivered at that commit) wakes a duplicate waiting in any process.
describe.skipIf(!url)('a duplicate waiting for a transactional first call on PostgreSQL', () => {
  let open: Awaited<ReturnType<typeof openPostgresStore>>;
  let ledger: string;
  let app: LedgerApp;
  let claims: () => number;
  beforeAll(async () => {
    open = await openPostgresStore(url!);
    ledger = await createLedger(open.pool);
    const counting = countingClaims(open.store);
    claims = counting.claims;
    app = await startLedgerApp({
      store: counting.store,
      pool: open.pool,
      ledger,
      inProgress: { waitMs: 5000, maxWaitMs: 10_000, rereadMs: REREAD_MS },
    });
  });
  afterAll(async () => {
    await app?.close();
    await open?.store.close();
    await open?.pool.query(`DROP TABLE IF EXISTS ${ledger}`);
    await open?.drop();
  });

  it.each([1, 2, 3, 4, 5])('is woken by the commit, not found by a re-read (run %i)', async () => {
    const key = newKey();
    const headers = { 'x-user': 'ann', 'idempotency-key': key };
    const input = { intent: key, amount: 500, sleepMs: 400 };
    const claimsBefore = claims();
    let firstAt = 0;
    const first = postMutation(app.url, 'pay', input, headers).then((answer) => {
      firstAt = performance.now();
      return answer;
    });
    await sleep(100);
    const duplicate = await postMutation(app.url, 'pay', input, { ...headers, prefer: 'wait=5' });
    const duplicateAt = performance.now();
    const firstAnswer = await first;
    const lagMs = duplicateAt - firstAt;
    console.info(`transactional wait: duplicate answered ${Math.round(lagMs)} ms after the first`);

    expect(firstAnswer.status).toBe(200);
    expect(duplicate.status).toBe(200);
    expect(duplicate.headers.get('idempotent-replayed')).toBe('true');
    expect(duplicate.data).toEqual(firstAnswer.data);
    expect(app.runs.get(key)).toBe(1);
    expect(await app.rowsOf(key)).toEqual([{ id: firstAnswer.data.id, fence: '1', via: 'pg' }]);
    // A re-read would come REREAD_MS after the watch was ready, ~4.7 s after the first answer.
    expect(lagMs).toBeLessThan(1000);
    // The first call's claim, the duplicate's first, one after its watch was ready, one after the wake
    // (and at most one more for a wake that came early).
    expect(claims() - claimsBefore - 1).toBeLessThanOrEqual(4);
  });
});
