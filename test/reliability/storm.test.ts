import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis } from '../support/redisServer.js';
import { type Answer, attempt, type CallerOutcome, callWithRetries, inBatches } from './support/client.js';
import { Ledger, type LedgerEntry } from './support/ledger.js';
import { type ServerProcess, spawnServers } from './support/processes.js';
import { FULL, recordFigures, size } from './support/scale.js';
import {
  databaseInstalled,
  openSqliteDatabase,
  type ScenarioDatabase,
  startMySqlDatabase,
  startPostgresDatabase,
} from './support/sqlDatabases.js';

const INTENTS = size(80, 2000);
const CALLERS = 10;
const PROCESSES = 4;
const INTENTS_AT_ONCE = size(15, 30);

/** The store and ledger a storm runs on: started before it, read after it, stopped at the end. */
interface StormRig {
  servers: ServerProcess[];
  snapshot(): Promise<{ runs: Map<string, number>; log: LedgerEntry[] }>;
  stop(): Promise<void>;
}

const pgInstalled = databaseInstalled('postgres', 'the PostgreSQL storm of test/reliability/storm.test.ts');
const mysqlInstalled = databaseInstalled('mysql', 'the MariaDB storm of test/reliability/storm.test.ts');

/** Redis as the store, the ledger on a redis-server of its own that refuses stale fences. */
async function redisRig(): Promise<StormRig> {
  const [idem, ledgerRedis] = await Promise.all([startRedis(), startRedis()]);
  const namespace = `storm-${randomUUID()}`;
  const servers = await spawnServers(PROCESSES, {
    store: 'redis',
    redisUrl: idem.url,
    prefix: 'rel-storm:',
    leaseMs: 5000,
    ledgerUrl: ledgerRedis.url,
    ledgerNamespace: namespace,
    // Long enough that the 10 callers of an intent overlap with its one run.
    handlerSleepMs: [5, 60],
  });
  const ledger = new Ledger(ledgerRedis.url, namespace);
  return {
    servers,
    snapshot: () => ledger.snapshot(),
    async stop() {
      ledger.close();
      await Promise.all(servers.map((server) => server.stop()));
      await Promise.all([idem.stop(), ledgerRedis.stop()]);
    },
  };
}

/**
 * A store in a SQL database (support/sqlDatabases.ts); the ledger is a table in the same database with no
 * fence check and no unique constraint, written in the handler's transaction (or, for SQLite, in autocommit:
 * several processes on one file must not use transaction: true, packages/sqlite/README.md).
 */
async function sqlRig(open: (maxConnections: number) => Promise<ScenarioDatabase>): Promise<StormRig> {
  const poolSize = 2 * INTENTS_AT_ONCE + 10;
  // Every process may open its whole pool; a server that refuses connections would fail the handlers' writes.
  const db = await open(PROCESSES * poolSize + 20);
  const ledger = await db.createLedger();
  const servers = await spawnServers(PROCESSES, {
    ...db.serverConfig(ledger, { transaction: db.kind !== 'sqlite' }),
    poolSize,
    leaseMs: 5000,
    handlerSleepMs: [5, 60],
  });
  return {
    servers,
    snapshot: () => ledger.snapshot(),
    async stop() {
      await Promise.all(servers.map((server) => server.stop()));
      await ledger.close();
      await db.stop();
    },
  };
}

describe.each([
  { store: 'Redis', figures: 'storm', rig: redisRig, skip: false, intents: INTENTS },
  // Quick mode runs fewer SQL intents: each commits to disk, and npm test has a time budget.
  {
    store: 'PostgreSQL (transaction: true)',
    figures: 'postgres-storm',
    rig: () => sqlRig(startPostgresDatabase),
    skip: !pgInstalled,
    intents: size(40, 2000),
  },
  {
    store: 'MariaDB (transaction: true)',
    figures: 'mysql-storm',
    rig: () => sqlRig(startMySqlDatabase),
    skip: !mysqlInstalled,
    intents: size(30, 2000),
  },
  {
    // Several processes on one file are safe but unfair (packages/sqlite/README.md); the handler writes its row
    // in autocommit, so what keeps a second row out is the claim alone.
    store: 'SQLite (one file, transaction: false)',
    figures: 'sqlite-storm',
    rig: () => sqlRig(async () => openSqliteDatabase()),
    skip: false,
    intents: size(30, 2000),
  },
])(
  'storm: every intent sent 10 times at once, over 4 server processes on $store',
  ({ figures, rig, skip, intents }) => {
    let setup: StormRig;
    let servers: ServerProcess[];
    const ledger = { snapshot: () => setup.snapshot() };

    beforeAll(async () => {
      if (skip) return;
      setup = await rig();
      servers = setup.servers;
    });

    afterAll(async () => {
      await setup?.stop();
    });

    it.skipIf(skip)(
      `runs the handler exactly once per intent (${intents} intents x ${CALLERS} callers); every caller gets that result or a typed error`,
      {
        timeout: FULL ? 420_000 : 90_000,
      },
      async () => {
        const pick = () => servers[Math.floor(Math.random() * servers.length)]!.url;
        const startedAt = performance.now();
        const keys = Array.from({ length: intents }, () => randomUUID());
        const outcomes: CallerOutcome[][] = await inBatches(intents, INTENTS_AT_ONCE, (index) => {
          const intent = `intent-${index}`;
          const key = keys[index]!;
          return Promise.all(
            Array.from({ length: CALLERS }, async () => {
              await new Promise((resolve) => setTimeout(resolve, Math.random() * 25)); // jitter
              return callWithRetries({ path: 'pay', input: { intent, amount: 1999 }, key, user: 'storm-user' }, pick, {
                attempts: 10,
                baseMs: 50,
                capMs: 1000,
                timeoutMs: () => 25 + Math.random() * 1500,
              });
            }),
          );
        });
        const seconds = (performance.now() - startedAt) / 1000;

        const snapshot = await ledger.snapshot();
        const tally: Record<string, number> = {};
        const wrongAnswers: Array<{ intent: string; answer: Answer }> = [];
        const splitResults: string[] = [];
        const unfinished: string[] = [];
        for (const [index, callers] of outcomes.entries()) {
          const intent = `intent-${index}`;
          const orderIds = new Set<string>();
          for (const caller of callers) {
            for (const answer of caller.answers) {
              const label = answer.kind === 'typed' ? `${answer.status} ${answer.code}` : answer.kind;
              tally[label] = (tally[label] ?? 0) + 1;
              if (answer.kind === 'ok') orderIds.add(answer.data.orderId);
              else if (answer.kind !== 'typed' && answer.kind !== 'timeout') wrongAnswers.push({ intent, answer });
            }
          }
          if (orderIds.size > 1) splitResults.push(intent);
          if (!callers.some((caller) => caller.final.kind === 'ok')) unfinished.push(intent);
        }

        // After the callers are done, every intent answers with its one stored result, from any process.
        const followUps = await inBatches(intents, 50, (index) =>
          attempt({
            url: servers[index % servers.length]!.url,
            path: 'pay',
            input: { intent: `intent-${index}`, amount: 1999 },
            key: keys[index]!,
            user: 'storm-user',
            timeoutMs: 10_000,
          }),
        );
        const loggedOrder = new Map(snapshot.log.map((entry) => [entry.intent, entry.orderId]));
        const followUpMismatches = followUps.filter(
          (answer, index) =>
            answer.kind !== 'ok' || !answer.replayed || answer.data.orderId !== loggedOrder.get(`intent-${index}`),
        );
        const runsPerIntent = [...snapshot.runs.values()];
        const stats = await Promise.all(servers.map((server) => server.stats()));

        recordFigures(figures, {
          processes: PROCESSES,
          intents: intents,
          callersPerIntent: CALLERS,
          attempts: Object.values(tally).reduce((a, b) => a + b, 0),
          answers: tally,
          seconds: Number(seconds.toFixed(1)),
          handlerRuns: runsPerIntent.reduce((a, b) => a + b, 0),
          intentsRunMoreThanOnce: runsPerIntent.filter((runs) => runs > 1).length,
          ledgerEntries: snapshot.log.length,
          callersWithDifferentResults: splitResults.length,
          wrongAnswers: wrongAnswers.length,
          intentsUnfinishedAfterRetries: unfinished.length,
          followUpMismatches: followUpMismatches.length,
          serverInternalErrors: stats.reduce((sum, s) => sum + s.internalErrors, 0),
          unhandledRejections: stats.reduce((sum, s) => sum + s.unhandledRejections, 0),
        });

        expect(wrongAnswers.slice(0, 5)).toEqual([]);
        expect(splitResults).toEqual([]);
        expect(unfinished).toEqual([]);
        expect(snapshot.runs.size).toBe(intents);
        expect(runsPerIntent.every((runs) => runs === 1)).toBe(true);
        expect(snapshot.log).toHaveLength(intents);
        expect(new Set(snapshot.log.map((entry) => entry.intent)).size).toBe(intents);
        expect(followUpMismatches.slice(0, 5)).toEqual([]);
        // Processes really shared the work: each one ran some of the handlers.
        expect(new Set(snapshot.log.map((entry) => entry.pid)).size).toBe(PROCESSES);
        expect(stats.map((s) => s.internalErrors + s.unhandledRejections)).toEqual(Array(PROCESSES).fill(0));
      },
    );
  },
);
