import { createSchema } from '@trpc-idempotency/postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { POSTGRES_HINT, testPool, testTable } from '../support/postgres.js';
import { type PostgresCluster, postgresBin, startPostgresCluster } from '../support/postgresCluster.js';
import { type Answer, attempt, inBatches } from './support/client.js';
import { holdPort } from './support/holdPort.js';
import { keepLoad } from './support/load.js';
import { PgLedger } from './support/pgLedger.js';
import { type ServerProcess, spawnServers } from './support/processes.js';
import { FULL, recordFigures, size } from './support/scale.js';

const WORKERS = size(12, 32);
const WARM_UP_MS = size(1500, 8000);
const DOWN_MS = size(1500, 4000);
const AFTER_MS = size(1500, 8000);
const LEASE_MS = 2000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const installed = postgresBin() !== undefined;
if (!installed && process.env.CI === 'true') throw new Error(`PostgreSQL is not installed. ${POSTGRES_HINT}`);
if (!installed) console.warn(`test/reliability/postgresRestart.test.ts skipped: no PostgreSQL. ${POSTGRES_HINT}`);

// The PostgreSQL counterpart of redisRestart.test.ts: kill -9 of the postmaster of a private cluster under
// load, then a restart with crash recovery. The store and the ledger live in that one database, and the
// ledger row is written in the handler's transaction (transaction: true), with no fence check.
describe.skipIf(!installed)('PostgreSQL postmaster killed (kill -9) under load and restarted', () => {
  let cluster: PostgresCluster;
  let servers: ServerProcess[];
  let ledger: PgLedger;

  beforeAll(async () => {
    cluster = await startPostgresCluster({ max_connections: '200' });
    const table = testTable('rel_restart');
    const admin = testPool(cluster.url, 1);
    await createSchema(admin, { table });
    await admin.end();
    ledger = await PgLedger.create(cluster.url);
    servers = await spawnServers(2, {
      store: 'postgres',
      postgresUrl: cluster.url,
      table,
      poolSize: 2 * WORKERS + 10,
      storeTimeoutMs: 500,
      leaseMs: LEASE_MS,
      pgLedger: ledger.tables,
      handlerSleepMs: [0, 20],
    });
  });

  afterAll(async () => {
    await Promise.all((servers ?? []).map((server) => server.stop()));
    await ledger?.close().catch(() => {});
    await cluster?.stop();
  });

  it('answers 503 (or a retryable 500) while it is down, recovers, runs no intent twice and loses none', {
    timeout: FULL ? 180_000 : 60_000,
  }, async () => {
    // A handler whose own write fails when the database dies answers 500, which a client retries
    // (docs/protocol.md §4); its transaction is gone, so the retry runs it again.
    const load = keepLoad(servers, WORKERS, 'restart-user', { retryServerErrors: true });
    await sleep(WARM_UP_MS);
    const killedAt = performance.now();
    await cluster.killPostmaster();
    // Keep the port while the database is down, so that no other test's server takes it before the restart.
    const release = await holdPort(cluster.port);
    await sleep(DOWN_MS);
    await release();
    await cluster.start();
    const restartedAt = performance.now();
    await sleep(AFTER_MS);
    await load.stop();

    // Wait out every lease that was live at the crash, so that an outcome the store failed to keep
    // would show up now as a second run with a different result.
    await sleep(LEASE_MS + 500);
    const followUps = await inBatches(load.sent.length, 20, (index) => {
      const s = load.sent[index]!;
      return attempt({
        url: servers[index % servers.length]!.url,
        path: 'pay',
        input: s.input,
        key: s.key,
        user: 'restart-user',
        timeoutMs: 10_000,
      });
    });
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
      ...load.sent.filter((s) => s.finishedAt > restartedAt && s.outcome.final.kind === 'ok').map((s) => s.finishedAt),
    );
    const stats = await Promise.all(servers.map((server) => server.stats()));

    recordFigures('postgres-restart', {
      intents: load.sent.length,
      attempts: all.length,
      postgresDownMs: Math.round(restartedAt - killedAt),
      storeUnavailable503: count((a) => a.kind === 'typed' && a.code === 'STORE_UNAVAILABLE'),
      inProgress409: count((a) => a.kind === 'typed' && a.code === 'IN_PROGRESS'),
      handlerErrors500: count((a) => a.kind === 'error' && a.status >= 500),
      clientTimeouts: count((a) => a.kind === 'timeout'),
      firstSuccessAfterRestartMs: Math.round(firstOkAfterRestart - restartedAt),
      nonRetryableAnswers: nonRetryable.length,
      intentsUnfinished: unfinished.length,
      completedRecordsLost: lost.length,
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
