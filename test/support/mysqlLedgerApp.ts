import { initTRPC, TRPCError } from '@trpc/server';
import {
  createIdempotency,
  type IdempotencyEvent,
  type IdempotencyOptions,
  idempotencyErrorFormatter,
  type TransactionalStore,
} from '@trpc-idempotency/server';
import type mysql from 'mysql2/promise';
import superjson from 'superjson';
import { z } from 'zod';
import { type Context, serve } from './app.js';
import { testTable } from './postgres.js';

/*
 * The transactional test app on MySQL/MariaDB: its handlers write a row to a ledger table in the store's
 * own database through ctx.idempotency.tx (docs/protocol.md §5). The ledger has no unique constraint and
 * checks no fence, so its rows count exactly what committed.
 */

/** Creates an InnoDB ledger table of its own in the test database and answers its name. */
export async function createMySqlLedger(pool: mysql.Pool): Promise<string> {
  const table = testTable('ledger');
  await pool.query(
    `CREATE TABLE ${table} (id BIGINT AUTO_INCREMENT PRIMARY KEY, intent VARCHAR(100) NOT NULL, fence BIGINT NOT NULL, amount INT NOT NULL) ENGINE = InnoDB`,
  );
  return table;
}

/** A running transactional test app and what its handlers did. */
export interface MySqlLedgerApp {
  url: string;
  /** Handler runs per intent (each run inserted a row, committed or not). */
  runs: Map<string, number>;
  events: IdempotencyEvent[];
  /** Committed ledger rows of one intent. */
  rowsOf(intent: string): Promise<Array<{ id: number; fence: number }>>;
  close(): Promise<void>;
}

const payInput = z.object({
  intent: z.string(),
  amount: z.number().int().positive(),
  sleepMs: z.number().optional(),
  /** After its insert, the handler: throws a 4xx on purpose, crashes, or ends its own transaction once. */
  fail: z.enum(['bad_request', 'crash', 'rollback_once']).optional(),
});

/** Starts the transactional test app on a MySqlStore (or a wrapper of one) and a ledger table. */
export async function startMySqlLedgerApp(
  options: Omit<IdempotencyOptions<Context>, 'store' | 'scope' | 'serializer' | 'transaction' | 'required'> & {
    store: TransactionalStore<mysql.PoolConnection>;
    pool: mysql.Pool;
    ledger: string;
  },
): Promise<MySqlLedgerApp> {
  const { store, pool, ledger, ...rest } = options;
  const runs = new Map<string, number>();
  const rolledBack = new Set<string>();
  const events: IdempotencyEvent[] = [];
  const t = initTRPC.context<Context>().create({ transformer: superjson, errorFormatter: idempotencyErrorFormatter });
  const idempotency = createIdempotency({
    ...rest,
    store,
    scope: (ctx: Context) => ctx.user,
    serializer: superjson,
    transaction: true,
    onEvent: (event) => events.push(event),
  });
  const router = t.router({
    pay: t.procedure
      .use(idempotency)
      .input(payInput)
      .mutation(async ({ ctx, input }) => {
        const { tx, fence } = ctx.idempotency;
        const [inserted] = await tx.query(`INSERT INTO ${ledger} (intent, fence, amount) VALUES (?, ?, ?)`, [
          input.intent,
          fence,
          input.amount,
        ]);
        runs.set(input.intent, (runs.get(input.intent) ?? 0) + 1);
        if (input.sleepMs) await new Promise((resolve) => setTimeout(resolve, input.sleepMs));
        if (input.fail === 'bad_request') throw new TRPCError({ code: 'BAD_REQUEST', message: 'card declined' });
        if (input.fail === 'crash') throw new Error('unexpected crash');
        if (input.fail === 'rollback_once' && !rolledBack.has(input.intent)) {
          rolledBack.add(input.intent);
          // The handler ends the transaction it was given: the middleware must not complete the record.
          await tx.query('ROLLBACK');
        }
        return { id: (inserted as { insertId: number }).insertId, fence, intent: input.intent };
      }),
  });
  const served = await serve(router);
  return {
    ...served,
    runs,
    events,
    rowsOf: async (intent) => {
      const [rows] = await pool.query(`SELECT id, fence FROM ${ledger} WHERE intent = ? ORDER BY id`, [intent]);
      return (rows as Array<{ id: number; fence: number }>).map((row) => ({
        id: Number(row.id),
        fence: Number(row.fence),
      }));
    },
  };
}
