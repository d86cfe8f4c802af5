import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attempt, type CallerOutcome, callWithRetries, inBatches } from './client.js';
import { type ServerProcess, spawnServer } from './processes.js';
import { FULL, recordFigures, size, waitUntil } from './scale.js';
import type { ServerConfig } from './serverConfig.js';
import type { ScenarioDatabase } from './sqlDatabases.js';
import type { SqlLedger } from './sqlLedger.js';
import { runsHistogram } from './sqlLedger.js';

/** Intents the victim holds at once in each test. */
export const CRASH_INTENTS = size(20, 200);
const LEASE_MS = 2000;

/**
 * The SQL counterpart of crash.test.ts, for any database of sqlDatabases.ts whose store runs many
 * handler transactions at once (PostgreSQL, MariaDB): a server process dies (kill -9) or stalls (SIGSTOP)
 * while it holds a lease per intent, each handler inside its transaction (transaction: true). The ledger
 * row is written in that transaction and the ledger checks no fence: what keeps a stale holder's row out
 * is its commit. Figures are recorded as `<kind>-crash-kill` and `<kind>-crash-stop`.
 */
export function describeHolderCrash(title: string, open: () => Promise<ScenarioDatabase>, skip: boolean): void {
  describe.skipIf(skip)(title, () => {
    let db: ScenarioDatabase;
    let healthy: ServerProcess[] = [];
    const started: ServerProcess[] = [];

    const config = (ledger: SqlLedger): ServerConfig => ({
      ...db.serverConfig(ledger),
      // Each running handler holds a connection for its transaction; its other statements need more.
      poolSize: 2 * CRASH_INTENTS + 10,
      leaseMs: LEASE_MS,
      handlerSleepMs: [0, 10],
    });

    beforeAll(async () => {
      db = await open();
    });

    afterAll(async () => {
      await Promise.all(started.map((server) => server.stop()));
      await db?.stop();
    });

    async function spawn(serverConfig: ServerConfig): Promise<ServerProcess> {
      const server = await spawnServer(serverConfig);
      started.push(server);
      return server;
    }

    /** Sends every intent first to `victim`, and every retry to a healthy process. */
    function sendAll(victim: ServerProcess, keys: string[], firstAttemptTimeoutMs: number): Promise<CallerOutcome[]> {
      return inBatches(keys.length, keys.length, (index) => {
        let first = true;
        return callWithRetries(
          { path: 'pay', input: { intent: `intent-${index}`, amount: 500 }, key: keys[index]!, user: 'crash-user' },
          (n) => (n === 1 ? victim.url : healthy[n % healthy.length]!.url),
          {
            attempts: 30,
            baseMs: 100,
            capMs: 1000,
            timeoutMs: () => {
              const ms = first ? firstAttemptTimeoutMs : 5000;
              first = false;
              return ms;
            },
          },
        );
      });
    }

    const replayAll = (servers: ServerProcess[], keys: string[]) =>
      inBatches(keys.length, 20, (index) =>
        attempt({
          url: servers[index % servers.length]!.url,
          path: 'pay',
          input: { intent: `intent-${index}`, amount: 500 },
          key: keys[index]!,
          user: 'crash-user',
          timeoutMs: 10_000,
        }),
      );

    it('after kill -9 its transactions roll back, retries take over when the leases run out, and each intent has one row', {
      timeout: FULL ? 180_000 : 60_000,
    }, async () => {
      const ledger = await db.createLedger();
      try {
        healthy = await Promise.all([spawn(config(ledger)), spawn(config(ledger))]);
        // The victim's handlers write their row, then sleep far longer than the test: they hold their leases
        // and their uncommitted rows until it dies.
        const victim = await spawn({ ...config(ledger), handlerSleepMs: [600_000, 600_000], writeBeforeSleep: true });
        const keys = Array.from({ length: CRASH_INTENTS }, () => randomUUID());
        const calls = sendAll(victim, keys, 600_000);
        await waitUntil(
          'every intent to have written its row on the victim',
          async () => (await victim.stats()).ledgerInserts === CRASH_INTENTS,
        );
        const killedAt = performance.now();
        victim.signal('SIGKILL');
        await victim.exited();
        const outcomes = await calls;
        const completedAfterKillMs = Math.round(performance.now() - killedAt);
        const snapshot = await ledger.snapshot();
        const replays = await replayAll(healthy, keys);
        const finals = outcomes.map((outcome) => outcome.final);
        recordFigures(`${db.kind}-crash-kill`, {
          intents: CRASH_INTENTS,
          leaseMs: LEASE_MS,
          completedAfterKillMs,
          runsPerIntent: runsHistogram(snapshot),
          killedWritesUncommitted: CRASH_INTENTS,
          killedWritesCommitted: snapshot.log.filter((entry) => entry.pid === victim.pid).length,
          ledgerRows: snapshot.log.length,
          intentsWithTwoRows: [...snapshot.entries.values()].filter((n) => n > 1).length,
        });

        expect(finals.filter((answer) => answer.kind !== 'ok')).toEqual([]);
        for (let index = 0; index < CRASH_INTENTS; index++) {
          const intent = `intent-${index}`;
          // The victim's run and the takeover's (a third when a takeover lost its own lease on a busy machine).
          expect(snapshot.runs.get(intent)).toBeGreaterThanOrEqual(2);
          expect(snapshot.entries.get(intent)).toBe(1);
          const entry = snapshot.log.find((logged) => logged.intent === intent)!;
          expect(entry.fence).toBeGreaterThanOrEqual(2);
          expect(entry.pid).not.toBe(victim.pid);
          const final = finals[index]!;
          expect(final.kind === 'ok' && final.data.orderId).toBe(entry.orderId);
          const replay = replays[index]!;
          expect(replay.kind === 'ok' && replay.replayed && replay.data.orderId).toBe(entry.orderId);
        }
        expect(snapshot.log).toHaveLength(CRASH_INTENTS);
      } finally {
        await ledger.close();
        await Promise.all(healthy.map((server) => server.stop()));
      }
    });

    it('a stalled holder that wakes after a takeover cannot commit: every stale row rolls back, with no fence check', {
      timeout: FULL ? 180_000 : 60_000,
    }, async () => {
      const ledger = await db.createLedger();
      try {
        healthy = await Promise.all([spawn(config(ledger)), spawn(config(ledger))]);
        // Its handlers sleep 1 s, but the process is stopped before they wake: when it resumes, their sleep
        // is over and each goes straight on to its ledger insert and its commit, with the old lease.
        const victim = await spawn({ ...config(ledger), handlerSleepMs: [1000, 1000] });
        const keys = Array.from({ length: CRASH_INTENTS }, () => randomUUID());
        const calls = sendAll(victim, keys, 3000);
        await waitUntil(
          'every intent to be running on the victim',
          async () => (await ledger.total('runs')) === CRASH_INTENTS,
        );
        victim.signal('SIGSTOP');
        const outcomes = await calls;
        const takenOver = await ledger.snapshot();
        victim.signal('SIGCONT');
        // Each woken holder ends with a refused commit, or, on a machine too busy to answer within the store's
        // timeout, with a commit that failed in the store (its connection is closed, which rolls it back too).
        const ended = (stats: Awaited<ReturnType<ServerProcess['stats']>>) =>
          (stats.events.commitRefused ?? 0) + (stats.events.storeErrorAfterRun ?? 0);
        await waitUntil(
          'the woken holders to insert and try to commit',
          async () => {
            const stats = await victim.stats();
            return stats.ledgerInserts >= CRASH_INTENTS && ended(stats) >= CRASH_INTENTS;
          },
          { timeoutMs: FULL ? 120_000 : 30_000 },
        );
        const snapshot = await ledger.snapshot();
        const stats = await victim.stats();
        const replays = await replayAll([victim], keys);
        const staleRowsCommitted = snapshot.log.filter((entry) => entry.pid === victim.pid).length;
        recordFigures(`${db.kind}-crash-stop`, {
          intents: CRASH_INTENTS,
          leaseMs: LEASE_MS,
          runsPerIntent: runsHistogram(snapshot),
          ledgerRows: snapshot.log.length,
          staleWritesMade: stats.ledgerInserts,
          staleCommitsRefused: stats.events.commitRefused ?? 0,
          staleCommitsFailedInStore: stats.events.storeErrorAfterRun ?? 0,
          staleWritesRolledBack: stats.ledgerInserts - staleRowsCommitted,
        });

        expect(outcomes.filter((outcome) => outcome.final.kind !== 'ok')).toEqual([]);
        expect(takenOver.log).toHaveLength(CRASH_INTENTS);
        expect(stats.ledgerInserts).toBe(CRASH_INTENTS);
        expect(ended(stats)).toBe(CRASH_INTENTS);
        expect(staleRowsCommitted).toBe(0);
        for (let index = 0; index < CRASH_INTENTS; index++) {
          const intent = `intent-${index}`;
          // Two runs at least: the victim's, and the takeover's. On a loaded machine a takeover may lose its own
          // lease before it commits; it rolls back too and a third run commits. Runs vary; the one row does not.
          expect(snapshot.runs.get(intent)).toBeGreaterThanOrEqual(2);
          expect(snapshot.entries.get(intent)).toBe(1);
          const entry = snapshot.log.find((logged) => logged.intent === intent)!;
          expect(entry.fence).toBeGreaterThanOrEqual(2);
          expect(entry.pid).not.toBe(victim.pid);
          const replay = replays[index]!;
          expect(replay.kind === 'ok' && replay.data.orderId).toBe(entry.orderId);
        }
        expect(snapshot.log).toHaveLength(CRASH_INTENTS);
        expect(stats.internalErrors + stats.unhandledRejections).toBe(0);
      } finally {
        await ledger.close();
        await Promise.all(healthy.map((server) => server.stop()));
      }
    });
  });
}
