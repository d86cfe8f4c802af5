import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Answer, callWithRetries, inBatches } from './client.js';
import { holdPort } from './holdPort.js';
import { keepLoad } from './load.js';
import { type ServerProcess, spawnServers } from './processes.js';
import { FULL, recordFigures, size } from './scale.js';
import type { ScenarioDatabase } from './sqlDatabases.js';
import type { SqlLedger } from './sqlLedger.js';

/** Callers sending fresh intents at once, all through the restart. */
const WORKERS = size(12, 32);
const WARM_UP_MS = size(1500, 8000);
const DOWN_MS = size(1500, 4000);
const AFTER_MS = size(1500, 8000);
const LEASE_MS = 2000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The SQL counterpart of redisRestart.test.ts, for a database server of sqlDatabases.ts (PostgreSQL,
 * MariaDB): kill -9 of the server under load, then a restart with crash recovery. The store and the ledger
 * live in that one database, and the ledger row is written in the handler's transaction (transaction: true),
 * with no fence check. Figures are recorded as `<kind>-restart`.
 */
export function describeDatabaseRestart(title: string, open: () => Promise<ScenarioDatabase>, skip: boolean): void {
  describe.skipIf(skip)(title, () => {
    let db: ScenarioDatabase;
    let servers: ServerProcess[];
    let ledger: SqlLedger;

    beforeAll(async () => {
      db = await open();
      ledger = await db.createLedger();
      servers = await spawnServers(2, {
        ...db.serverConfig(ledger),
        poolSize: 2 * WORKERS + 10,
        storeTimeoutMs: 500,
        leaseMs: LEASE_MS,
        handlerSleepMs: [0, 20],
      });
    });

    afterAll(async () => {
      await Promise.all((servers ?? []).map((server) => server.stop()));
      await ledger?.close().catch(() => {});
      await db?.stop();
    });

    it('answers 503 (or a retryable 500) while it is down, recovers, runs no intent twice and loses none', {
      timeout: FULL ? 180_000 : 60_000,
    }, async () => {
      // A handler whose own write fails when the database dies answers 500, which a client retries
      // (docs/protocol.md §4); its transaction is gone, so the retry runs it again.
      const load = keepLoad(servers, WORKERS, 'restart-user', { retryServerErrors: true });
      await sleep(WARM_UP_MS);
      const killedAt = performance.now();
      await db.server!.kill();
      // Keep the port while the database is down, so that no other test's server takes it before the restart.
      const release = await holdPort(db.server!.port);
      await sleep(DOWN_MS);
      await release();
      await db.server!.start();
      const restartedAt = performance.now();
      await sleep(AFTER_MS);
      await load.stop();

      // Wait out every lease that was live at the crash, so that an outcome the store failed to keep
      // would show up now as a second run with a different result.
      await sleep(LEASE_MS + 500);
      // A follow-up that meets a 503 (a pooled connection that died with the database fails once, on MySQL)
      // asks again, as a client would; those 503s are counted.
      const followUpCalls = await inBatches(load.sent.length, 20, (index) => {
        const s = load.sent[index]!;
        return callWithRetries(
          { path: 'pay', input: s.input, key: s.key, user: 'restart-user' },
          () => servers[index % servers.length]!.url,
          { attempts: 3, baseMs: 100, capMs: 200, timeoutMs: () => 10_000 },
        );
      });
      const followUps = followUpCalls.map((call) => call.final);
      const followUp503 = followUpCalls.reduce(
        (sum, call) => sum + call.answers.filter((a) => a.kind === 'typed' && a.code === 'STORE_UNAVAILABLE').length,
        0,
      );
      const snapshot = await ledger.snapshot();
      const rowsByOrder = new Map(snapshot.log.map((entry) => [entry.orderId, entry.intent]));

      const all: Answer[] = load.sent.flatMap((s) => s.outcome.answers);
      const count = (predicate: (answer: Answer) => boolean) => all.filter(predicate).length;
      const unfinished = load.sent.filter((s) => s.outcome.final.kind !== 'ok');
      const nonRetryable = all.filter((a) => (a.kind === 'error' && a.status < 500) || a.kind === 'network');
      const lost = load.sent.filter((s, index) => {
        const final = s.outcome.final;
        const followUp = followUps[index]!;
        return !(
          final.kind === 'ok' &&
          followUp.kind === 'ok' &&
          followUp.replayed &&
          followUp.data.orderId === final.data.orderId &&
          rowsByOrder.get(final.data.orderId) === s.intent
        );
      });
      const twoRows = [...snapshot.entries.values()].filter((rows) => rows > 1).length;
      const firstOkAfterRestart = Math.min(
        ...load.sent
          .filter((s) => s.finishedAt > restartedAt && s.outcome.final.kind === 'ok')
          .map((s) => s.finishedAt),
      );
      const stats = await Promise.all(servers.map((server) => server.stats()));

      recordFigures(`${db.kind}-restart`, {
        intents: load.sent.length,
        attempts: all.length,
        databaseDownMs: Math.round(restartedAt - killedAt),
        storeUnavailable503: count((a) => a.kind === 'typed' && a.code === 'STORE_UNAVAILABLE'),
        inProgress409: count((a) => a.kind === 'typed' && a.code === 'IN_PROGRESS'),
        handlerErrors500: count((a) => a.kind === 'error' && a.status >= 500),
        clientTimeouts: count((a) => a.kind === 'timeout'),
        firstSuccessAfterRestartMs: Math.round(firstOkAfterRestart - restartedAt),
        nonRetryableAnswers: nonRetryable.length,
        intentsUnfinished: unfinished.length,
        followUp503,
        completedRecordsLost: lost.length,
        // What a lost one looked like: its final answer, its follow-up, and the row the ledger holds for it.
        lostSamples: lost.slice(0, 3).map((s) => {
          const followUp = followUps[load.sent.indexOf(s)]!;
          return {
            final: s.outcome.final.kind === 'ok' ? s.outcome.final.data.orderId : s.outcome.final,
            followUp:
              followUp.kind === 'ok' ? { replayed: followUp.replayed, orderId: followUp.data.orderId } : followUp,
            rows: snapshot.log.filter((entry) => entry.intent === s.intent),
            runs: snapshot.runs.get(s.intent),
          };
        }),
        intentsWithTwoLedgerRows: twoRows,
        intentsRunMoreThanOnce: [...snapshot.runs.values()].filter((runs) => runs > 1).length,
        ledgerRows: snapshot.log.length,
        unhandledRejections: stats.reduce((sum, s) => sum + s.unhandledRejections, 0),
        serverEvents: stats.map((s) => s.events),
      });

      expect(count((a) => a.kind === 'typed' && a.code === 'STORE_UNAVAILABLE')).toBeGreaterThan(0);
      expect(nonRetryable.slice(0, 5)).toEqual([]);
      expect(unfinished.map((s) => s.outcome.final)).toEqual([]);
      expect(firstOkAfterRestart).toBeLessThan(Number.POSITIVE_INFINITY);
      expect(lost.map((s) => s.intent)).toEqual([]);
      expect(twoRows).toBe(0);
      expect(snapshot.log).toHaveLength(load.sent.length);
      expect(stats.map((s) => s.unhandledRejections)).toEqual([0, 0]);
    });
  });
}
