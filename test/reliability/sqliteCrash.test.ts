import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/redisServer.js';
import { attempt, callWithRetries, inBatches } from './support/client.js';
import { type ServerProcess, spawnServer } from './support/processes.js';
import { FULL, recordFigures, size, waitUntil } from './support/scale.js';
import type { ServerConfig } from './support/serverConfig.js';
import { openSqliteDatabase, type ScenarioDatabase } from './support/sqlDatabases.js';
import { runsHistogram } from './support/sqlLedger.js';

const ROUNDS = size(2, 8);
const INTENTS = size(5, 20);
const LEASE_MS = 2000;

// SQLite's counterpart of support/sqlCrash.ts's kill -9. On SQLite the server process is the database too, and
// one process per file runs the handler transactions, one at a time (packages/sqlite/README.md): so each round
// kills the one server while its handler holds the file's write lock with a row written and not committed,
// and starts a new process on the same file and port. SIGSTOP is left out: a stopped holder keeps the write
// lock, so no other request can take its lease over, and there is never a stale holder to roll back.
describe('crash on SQLite: the server dies (kill -9) mid-handler, with transaction: true, and restarts on the file', () => {
  let db: ScenarioDatabase;
  const started: ServerProcess[] = [];

  beforeAll(async () => {
    db = await openSqliteDatabase();
  });

  afterAll(async () => {
    await Promise.all(started.map((server) => server.stop()));
    await db?.stop();
  });

  async function spawn(config: ServerConfig): Promise<ServerProcess> {
    const server = await spawnServer(config);
    started.push(server);
    return server;
  }

  it('rolls back the killed handler’s row; the next process takes the lease over and each intent has one row', {
    timeout: FULL ? 300_000 : 90_000,
  }, async () => {
    const ledger = await db.createLedger();
    const victims: number[] = [];
    let killedWrites = 0;
    const keys: string[] = [];
    let replacement: ServerProcess | undefined;
    try {
      for (let round = 0; round < ROUNDS; round++) {
        const port = await freePort();
        const config: ServerConfig = { ...db.serverConfig(ledger), port, leaseMs: LEASE_MS, writeBeforeSleep: true };
        // Its handler writes the row, then sleeps past the test: it holds the transaction until it dies.
        const victim = await spawn({ ...config, handlerSleepMs: [600_000, 600_000] });
        victims.push(victim.pid);
        const roundKeys = Array.from({ length: INTENTS }, () => randomUUID());
        const first = keys.length;
        keys.push(...roundKeys);
        // The intents behind the first wait for the write lock and get 503; every one retries on the same port.
        const calls = inBatches(INTENTS, INTENTS, (index) =>
          callWithRetries(
            {
              path: 'pay',
              input: { intent: `intent-${first + index}`, amount: 500 },
              key: roundKeys[index]!,
              user: 'crash-user',
            },
            () => `http://127.0.0.1:${port}`,
            { attempts: 80, baseMs: 100, capMs: 1000, timeoutMs: () => 5000 },
          ),
        );
        await waitUntil('a handler to have written its row on the victim', async () => {
          return (await victim.stats()).ledgerInserts === 1;
        });
        killedWrites++;
        victim.signal('SIGKILL');
        await victim.exited();
        replacement = await spawn({ ...config, handlerSleepMs: [0, 10] });
        const outcomes = await calls;
        expect(outcomes.filter((outcome) => outcome.final.kind !== 'ok').map((outcome) => outcome.final)).toEqual([]);
        await replacement.stop();
      }
      replacement = await spawn({ ...db.serverConfig(ledger), leaseMs: LEASE_MS });
      const server = replacement;
      const replays = await inBatches(keys.length, 10, (index) =>
        attempt({
          url: server.url,
          path: 'pay',
          input: { intent: `intent-${index}`, amount: 500 },
          key: keys[index]!,
          user: 'crash-user',
          timeoutMs: 10_000,
        }),
      );
      const snapshot = await ledger.snapshot();
      const killedRowsCommitted = snapshot.log.filter((entry) => victims.includes(entry.pid)).length;
      recordFigures('sqlite-crash-kill', {
        rounds: ROUNDS,
        intents: keys.length,
        leaseMs: LEASE_MS,
        runsPerIntent: runsHistogram(snapshot),
        killedWritesUncommitted: killedWrites,
        killedWritesCommitted: killedRowsCommitted,
        ledgerRows: snapshot.log.length,
        intentsWithTwoRows: [...snapshot.entries.values()].filter((n) => n > 1).length,
      });

      expect(killedRowsCommitted).toBe(0);
      expect(snapshot.log).toHaveLength(keys.length);
      for (let index = 0; index < keys.length; index++) {
        const intent = `intent-${index}`;
        expect(snapshot.entries.get(intent)).toBe(1);
        const entry = snapshot.log.find((logged) => logged.intent === intent)!;
        const replay = replays[index]!;
        expect(replay.kind === 'ok' && replay.replayed && replay.data.orderId).toBe(entry.orderId);
      }
      // One intent per round ran on its victim and again after the takeover, with the next fence.
      const twice = [...snapshot.runs.entries()].filter(([, runs]) => runs > 1).map(([intent]) => intent);
      expect(twice).toHaveLength(ROUNDS);
      for (const intent of twice) {
        expect(snapshot.log.find((logged) => logged.intent === intent)!.fence).toBe(2);
      }
    } finally {
      await ledger.close();
    }
  });
});
