import { initTRPC, TRPCError } from '@trpc/server';
import { transactionPool } from '@trpc-idempotency/postgres';
import {
  createIdempotency,
  type IdempotencyEvent,
  type IdempotencyOptions,
  idempotencyErrorFormatter,
  type TransactionalStore,
} from '@trpc-idempotency/server';
import { type Generated, Kysely, PostgresDialect } from 'kysely';
import type pg from 'pg';
import superjson from 'superjson';
import { z } from 'zod';
import { type Context, serve } from './app.js';
import { testTable } from './postgres.js';

/*
 * The transactional test app: its handlers write a row to a ledger table in the store's own database
 * through ctx.idempotency.tx (docs/protocol.md §5). The ledger has no unique constraint and checks no
 * fence, so its rows count exactly what committed.
 */

/** Creates a ledger table of its own in the test database and answers its name. */
export async function createLedger(pool: pg.Pool): Promise<string> {
  const table = testTable('ledger');
  await pool.query(
    `CREATE TABLE ${table} (id bigserial PRIMARY KEY, intent text NOT NULL, fence bigint NOT NULL, amount int NOT NULL, via text NOT NULL)`,
  );
  return table;
}

/** The ledger's columns, as Kysely sees them. */
interface LedgerDatabase {
  [table: string]: { id: Generated<string>; intent: string; fence: string; amount: number; via: string };
}

/** A running transactional test app and what its handlers did. */
export interface LedgerApp {
  url: string;
  /** Handler runs per intent (each run inserted a row, committed or not). */
  runs: Map<string, number>;
  events: IdempotencyEvent[];
  /** Committed ledger rows of one intent. */
  rowsOf(intent: string): Promise<Array<{ id: string; fence: string; via: string }>>;
  close(): Promise<void>;
}

const payInput = z.object({
  intent: z.string(),
  amount: z.number().int().positive(),
  sleepMs: z.number().optional(),
  /** After its insert, the handler: throws a 4xx on purpose, crashes, or breaks its own transaction once. */
  fail: z.enum(['bad_request', 'crash', 'break_transaction_once']).optional(),
});

/** Starts the transactional test app on a PostgresStore (or a wrapper of one) and a ledger table. */
export async function startLedgerApp(
  options: Omit<IdempotencyOptions<Context>, 'store' | 'scope' | 'serializer' | 'transaction' | 'required'> & {
    store: TransactionalStore<pg.PoolClient>;
    pool: pg.Pool;
    ledger: string;
  },
): Promise<LedgerApp> {
  const { store, pool, ledger, ...rest } = options;
  const runs = new Map<string, number>();
  const broken = new Set<string>();
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
  const procedure = t.procedure.use(idempotency).input(payInput);

  async function afterInsert(tx: pg.PoolClient, input: z.infer<typeof payInput>): Promise<void> {
    runs.set(input.intent, (runs.get(input.intent) ?? 0) + 1);
    if (input.sleepMs) await new Promise((resolve) => setTimeout(resolve, input.sleepMs));
    if (input.fail === 'bad_request') throw new TRPCError({ code: 'BAD_REQUEST', message: 'card declined' });
    if (input.fail === 'crash') throw new Error('unexpected crash');
    if (input.fail === 'break_transaction_once' && !broken.has(input.intent)) {
      broken.add(input.intent);
      // A statement that fails and is swallowed leaves the transaction aborted: it cannot commit.
      await tx.query('SELECT 1 / 0').catch(() => {});
    }
  }

  const router = t.router({
    pay: procedure.mutation(async ({ ctx, input }) => {
      const { tx, fence } = ctx.idempotency;
      const { rows } = await tx.query<{ id: string }>(
        `INSERT INTO ${ledger} (intent, fence, amount, via) VALUES ($1, $2, $3, 'pg') RETURNING id`,
        [input.intent, fence, input.amount],
      );
      await afterInsert(tx, input);
      return { id: rows[0]!.id, fence, intent: input.intent };
    }),
    payKysely: procedure.mutation(async ({ ctx, input }) => {
      const { tx, fence } = ctx.idempotency;
      const db = new Kysely<LedgerDatabase>({ dialect: new PostgresDialect({ pool: transactionPool(tx) }) });
      const row = await db
        .insertInto(ledger)
        .values({ intent: input.intent, fence: String(fence), amount: input.amount, via: 'kysely' })
        .returning('id')
        .executeTakeFirstOrThrow();
      await afterInsert(tx, input);
      return { id: row.id, fence, intent: input.intent };
    }),
  });
  const served = await serve(router);
  return {
    ...served,
    runs,
    events,
    rowsOf: async (intent) =>
      (await pool.query(`SELECT id, fence, via FROM ${ledger} WHERE intent = $1 ORDER BY id`, [intent])).rows,
  };
}
