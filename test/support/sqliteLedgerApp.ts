import { initTRPC, TRPCError } from '@trpc/server';
import {
  createIdempotency,
  type IdempotencyEvent,
  type IdempotencyOptions,
  idempotencyErrorFormatter,
  type TransactionalStore,
} from '@trpc-idempotency/server';
import Database from 'better-sqlite3';
import superjson from 'superjson';
import { z } from 'zod';
import { type Context, serve } from './app.js';

/*
 * The transactional test app on SQLite: its handlers write a row to a ledger table in the store's own file
 * through ctx.idempotency.tx (docs/protocol.md §5). The ledger has no unique constraint and checks no fence,
 * so its rows count exactly what committed.
 */

/** Creates the ledger table in the file. */
export function createSqliteLedger(filename: string): void {
  const db = new Database(filename);
  db.exec(
    'CREATE TABLE IF NOT EXISTS ledger (id INTEGER PRIMARY KEY, intent TEXT NOT NULL, fence INTEGER NOT NULL, amount INTEGER NOT NULL, via TEXT NOT NULL)',
  );
  db.close();
}

/** A running transactional test app on SQLite and what its handlers did. */
export interface SqliteLedgerApp {
  url: string;
  /** Handler runs per intent (each run inserted a row, committed or not). */
  runs: Map<string, number>;
  events: IdempotencyEvent[];
  /** Committed ledger rows of one intent, read on a connection of their own. */
  rowsOf(intent: string): Array<{ id: number; fence: number; via: string }>;
  close(): Promise<void>;
}

const payInput = z.object({
  intent: z.string(),
  amount: z.number().int().positive(),
  sleepMs: z.number().optional(),
  /** After its insert, the handler: throws a 4xx on purpose, crashes, or makes SQLite roll its transaction back once. */
  fail: z.enum(['bad_request', 'crash', 'break_transaction_once']).optional(),
});

/** Starts the transactional test app on a SqliteStore (or a wrapper of one) whose file holds the ledger. */
export async function startSqliteLedgerApp(
  options: Omit<IdempotencyOptions<Context>, 'store' | 'scope' | 'serializer' | 'transaction' | 'required'> & {
    store: TransactionalStore<Database.Database>;
    filename: string;
  },
): Promise<SqliteLedgerApp> {
  const { store, filename, ...rest } = options;
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
  const router = t.router({
    pay: t.procedure
      .use(idempotency)
      .input(payInput)
      .mutation(async ({ ctx, input }) => {
        const { tx, fence } = ctx.idempotency;
        const { id } = tx
          .prepare("INSERT INTO ledger (intent, fence, amount, via) VALUES (?, ?, ?, 'sqlite') RETURNING id")
          .get(input.intent, fence, input.amount) as { id: number };
        runs.set(input.intent, (runs.get(input.intent) ?? 0) + 1);
        if (input.sleepMs) await new Promise((resolve) => setTimeout(resolve, input.sleepMs));
        if (input.fail === 'bad_request') throw new TRPCError({ code: 'BAD_REQUEST', message: 'card declined' });
        if (input.fail === 'crash') throw new Error('unexpected crash');
        if (input.fail === 'break_transaction_once' && !broken.has(input.intent)) {
          broken.add(input.intent);
          // A conflict under OR ROLLBACK makes SQLite roll the whole transaction back; the error is swallowed.
          try {
            tx.prepare("INSERT OR ROLLBACK INTO ledger (id, intent, fence, amount, via) VALUES (?, '', 0, 1, '')").run(
              id,
            );
          } catch {}
        }
        return { id, fence, intent: input.intent };
      }),
  });
  const served = await serve(router);
  const reader = new Database(filename, { readonly: true });
  return {
    ...served,
    runs,
    events,
    rowsOf: (intent) =>
      reader.prepare('SELECT id, fence, via FROM ledger WHERE intent = ? ORDER BY id').all(intent) as Array<{
        id: number;
        fence: number;
        via: string;
      }>,
    async close() {
      await served.close();
      reader.close();
    },
  };
}
