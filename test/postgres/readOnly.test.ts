import { createSchema, PostgresStore } from '@trpc-idempotency/postgres';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { postMutation, startTestApp } from '../support/app.js';
import { newKey } from '../support/backends.js';
import { createLedger, startLedgerApp } from '../support/ledgerApp.js';
import { dropSchema, POSTGRES_HINT, testPool, testTable } from '../support/postgres.js';

const url = inject('postgresUrl');
if (!url) console.warn(`test/postgres/readOnly.test.ts skipped: no PostgreSQL. ${POSTGRES_HINT}`);

// docs/protocol.md §3: a database that refuses writes (here read-only, as a standby or a database set
// read-only is) answers 503 STORE_FULL, and no handler runs unprotected, fail-open or not.
describe.skipIf(!url)('a read-only PostgreSQL', () => {
  let direct: pg.Pool;
  let readOnly: pg.Pool;
  let table: string;
  beforeAll(async () => {
    direct = testPool(url!);
    table = testTable();
    await createSchema(direct, { table });
    readOnly = new pg.Pool({ connectionString: url!, max: 5, options: '-c default_transaction_read_only=on' });
    readOnly.on('error', () => {});
  });
  afterAll(async () => {
    await readOnly.end();
    await dropSchema(direct, table);
    await direct.end();
  });

  it.each(['fail-closed', 'fail-open'] as const)(
    'answers 503 STORE_FULL and runs nothing, with %s',
    async (onStoreError) => {
      const store = await new PostgresStore({ pool: readOnly, table }).ready();
      const app = await startTestApp({ store, onStoreError });
      try {
        const answer = await postMutation(
          app.url,
          'orders.create',
          { item: 'x' },
          { 'x-user': 'ann', 'idempotency-key': newKey() },
        );
        expect(answer.status).toBe(503);
        expect(answer.error?.data.idempotency).toEqual({ code: 'STORE_FULL', retryAfterMs: 1000 });
        expect(app.effects.orders).toHaveLength(0);
      } finally {
        await app.close();
      }
    },
  );

  it('answers 503 with transaction: true, and the handler writes nothing', async () => {
    const ledger = await createLedger(direct);
    const store = await new PostgresStore({ pool: readOnly, table }).ready();
    const app = await startLedgerApp({ store, pool: readOnly, ledger });
    try {
      const answer = await postMutation(
        app.url,
        'pay',
        { intent: newKey(), amount: 100 },
        { 'x-user': 'ann', 'idempotency-key': newKey() },
      );
      expect(answer.status).toBe(503);
      expect(answer.error?.data.idempotency?.code).toBe('STORE_FULL');
      expect((await direct.query(`SELECT count(*)::int AS n FROM ${ledger}`)).rows[0].n).toBe(0);
    } finally {
      await app.close();
    }
  });
});
