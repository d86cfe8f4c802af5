import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisProcess, startRedis } from '../support/redisServer.js';
import { type Answer, attempt, inBatches } from './support/client.js';
import { holdPort } from './support/holdPort.js';
import { Ledger } from './support/ledger.js';
import { keepLoad } from './support/load.js';
import { type ServerProcess, spawnServers } from './support/processes.js';
import { FULL, recordFigures, size } from './support/scale.js';

const WORKERS = size(12, 32);
const WARM_UP_MS = size(1500, 8000);
const DOWN_MS = size(1500, 4000);
const AFTER_MS = size(1500, 8000);
const LEASE_MS = 2000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.each([
  { persistence: 'appendonly yes', args: ['--appendonly', 'yes'] },
  { persistence: 'no persistence', args: [] },
])('Redis restart under load ($persistence)', ({ persistence, args }) => {
  let idem: RedisProcess;
  let ledgerRedis: RedisProcess;
  let servers: ServerProcess[];
  let ledger: Ledger;
  const namespace = `restart-${randomUUID()}`;
  const durable = args.length > 0;

  beforeAll(async () => {
    [idem, ledgerRedis] = await Promise.all([startRedis(args), startRedis()]);
    servers = await spawnServers(2, {
      store: 'redis',
      redisUrl: idem.url,
      prefix: 'rel-restart:',
      storeTimeoutMs: 500,
      leaseMs: LEASE_MS,
      ledgerUrl: ledgerRedis.url,
      ledgerNamespace: namespace,
      handlerSleepMs: [0, 20],
    });
    ledger = new Ledger(ledgerRedis.url, namespace);
  });

  afterAll(async () => {
    ledger?.close();
    await Promise.all((servers ?? []).map((server) => server.stop()));
    await Promise.all([idem?.stop(), ledgerRedis?.stop()]);
  });

  it(durable
    ? 'answers 503 STORE_UNAVAILABLE while Redis is down, recovers, and loses no completed record'
    : 'answers 503 while Redis is down and recovers, but forgets every completed record', {
    timeout: FULL ? 180_000 : 60_000,
  }, async () => {
    const load = keepLoad(servers, WORKERS, 'restart-user');
    await sleep(WARM_UP_MS);
    const stoppedAt = performance.now();
    await idem.stop();
    // Keep the port while Redis is down, so that no other test's server takes it before the restart.
    const release = await holdPort(idem.port);
    await sleep(DOWN_MS);
    await release();
    await idem.restart();
    const restartedAt = performance.now();
    await sleep(AFTER_MS);
    await load.stop();
    const completedBeforeStop = load.sent.filter((s) => s.finishedAt < stoppedAt && s.outcome.final.kind === 'ok');

    // Wait out every lease that was live at the restart, so that an outcome the store failed to
    // keep would show up now as a second run with a different result.
    await sleep(LEASE_MS + 500);
    const followUps = await inBatches(load.sent.length, 20, (index) => {
      const s = load.sent[index]!;
      return attempt({
        url: servers[index % servers.length]!.url,
        path: 'pay',
        input: { intent: s.intent, amount: 700 },
        key: s.key,
        user: 'restart-user',
        timeoutMs: 10_000,
      });
    });
    const snapshot = await ledger.snapshot();

    const all: Answer[] = load.sent.flatMap((s) => s.outcome.answers);
    const count = (predicate: (answer: Answer) => boolean) => all.filter(predicate).length;
    const unavailable = count((a) => a.kind === 'typed' && a.code === 'STORE_UNAVAILABLE');
    const wrong = all.filter((a) => a.kind === 'error' || a.kind === 'network');
    const unfinished = load.sent.filter((s) => s.outcome.final.kind !== 'ok');
    const sameResult = (index: number) => {
      const s = load.sent[index]!;
      const followUp = followUps[index]!;
      return (
        s.outcome.final.kind === 'ok' &&
        followUp.kind === 'ok' &&
        followUp.replayed &&
        followUp.data.orderId === s.outcome.final.data.orderId
      );
    };
    const lost = load.sent.filter((_, index) => !sameResult(index));
    const lostBeforeStop = completedBeforeStop.filter((s) => lost.includes(s));
    const runsAbove1 = [...snapshot.runs.values()].filter((runs) => runs > 1).length;
    const firstOkAfterRestart = Math.min(
      ...load.sent.filter((s) => s.finishedAt > restartedAt && s.outcome.final.kind === 'ok').map((s) => s.finishedAt),
    );
    const stats = await Promise.all(servers.map((server) => server.stats()));

    recordFigures(`redis-restart-${durable ? 'aof' : 'no-persistence'}`, {
      persistence,
      intents: load.sent.length,
      attempts: all.length,
      redisDownMs: DOWN_MS,
      storeUnavailable503: unavailable,
      inProgress409: count((a) => a.kind === 'typed' && a.code === 'IN_PROGRESS'),
      firstSuccessAfterRestartMs: Math.round(firstOkAfterRestart - restartedAt),
      wrongAnswers: wrong.length,
      intentsUnfinished: unfinished.length,
      completedBeforeStop: completedBeforeStop.length,
      completedRecordsLost: lost.length,
      completedBeforeStopLost: lostBeforeStop.length,
      intentsRunMoreThanOnce: runsAbove1,
      ledgerEntries: snapshot.log.length,
      serverInternalErrors: stats.reduce((sum, s) => sum + s.internalErrors, 0),
      unhandledRejections: stats.reduce((sum, s) => sum + s.unhandledRejections, 0),
      serverEvents: stats.map((s) => s.events),
    });
    // What the servers logged about failed completions, to explain a lost record.
    if (durable && lost.length > 0)
      console.log(
        servers.map((server) => server.stderr()).join('\n'),
        lost.map((s) => [s.intent, s.key, s.finishedAt - stoppedAt]),
      );

    expect(unavailable).toBeGreaterThan(0);
    expect(wrong.slice(0, 5)).toEqual([]);
    expect(unfinished.map((s) => s.outcome.final)).toEqual([]);
    expect(firstOkAfterRestart).toBeLessThan(Number.POSITIVE_INFINITY);
    expect(stats.map((s) => s.internalErrors + s.unhandledRejections)).toEqual([0, 0]);
    expect(completedBeforeStop.length).toBeGreaterThan(0);
    if (durable) {
      expect(lost.map((s) => s.intent)).toEqual([]);
      expect(runsAbove1).toBe(0);
    } else {
      // Without persistence the restart forgets every record made before it: each of those intents
      // runs again on its next retry. This is the documented price of persistence off.
      expect(lostBeforeStop).toHaveLength(completedBeforeStop.length);
    }
  });
});
