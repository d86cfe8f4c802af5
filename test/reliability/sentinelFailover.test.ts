import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SENTINEL_MASTER_NAME, type SentinelSet, startSentinelSet } from '../support/redisSentinel.js';
import { type RedisProcess, startRedis } from '../support/redisServer.js';
import { type Answer, attempt, inBatches } from './support/client.js';
import { Ledger } from './support/ledger.js';
import { keepLoad } from './support/load.js';
import { type ServerProcess, spawnServers } from './support/processes.js';
import { FULL, percentile, recordFigures, size } from './support/scale.js';

const WORKERS = size(8, 32);
const WARM_UP_MS = size(1500, 10_000);
/**
 * How long the load goes on after the kill. With `waitForReplicas`, the promoted replica has no replica of its own
 * until the killed primary is back and the sentinels have made it a replica (they look at it every 10 s), so
 * those variants need more than 20 s to recover.
 */
const AFTER_KILL_MS = size(7000, 30_000);
/** When the killed primary is started again, as an orchestrator would; the sentinels make it a replica. */
const REJOIN_AFTER_MS = size(4000, 10_000);
const LEASE_MS = 3000;
const WAIT = { replicas: 1, timeoutMs: 100 };
const LAG_MS = 500;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const failed = (answer: Answer) => answer.kind !== 'ok';

/**
 * Makes the replica fall behind before the kill, as in the Cluster scenario: the primary drops its
 * replica's link and refuses it back (a password), while it goes on acknowledging writes.
 */
async function cutOffReplica(set: SentinelSet, lagMs: number): Promise<number> {
  const admin = new Redis(set.primary.port, '127.0.0.1');
  try {
    await admin.call('CONFIG', 'SET', 'requirepass', randomUUID());
    await admin.call('CLIENT', 'KILL', 'TYPE', 'replica');
    await sleep(lagMs);
    const primaryOffset = Number(/master_repl_offset:(\d+)/.exec(await admin.info('replication'))?.[1]);
    const peer = new Redis(set.replica.port, '127.0.0.1');
    const info = await peer.info('replication').finally(() => peer.disconnect());
    return primaryOffset - Number(/slave_repl_offset:(\d+)/.exec(info)?.[1] ?? 0);
  } finally {
    admin.disconnect();
  }
}

describe.each([
  { variant: 'asynchronous replication (default)', name: 'async', waitForReplicas: undefined, lagMs: 0 },
  // Full mode only, to keep the quick suite short.
  ...(FULL
    ? [
        { variant: 'default, replica 0.5 s behind', name: 'async-lagging', waitForReplicas: undefined, lagMs: LAG_MS },
        { variant: 'waitForReplicas: { replicas: 1, timeoutMs: 100 }', name: 'wait', waitForReplicas: WAIT, lagMs: 0 },
        {
          variant: 'waitForReplicas, replica 0.5 s behind',
          name: 'wait-lagging',
          waitForReplicas: WAIT,
          lagMs: LAG_MS,
        },
      ]
    : []),
])(
  'Redis Sentinel (primary, replica, 3 sentinels) loses its primary under load: $variant',
  ({ name, waitForReplicas, lagMs }) => {
    let set: SentinelSet;
    let ledgerRedis: RedisProcess;
    let servers: ServerProcess[];
    let ledger: Ledger;
    const namespace = `sentinel-${randomUUID()}`;

    beforeAll(async () => {
      [set, ledgerRedis] = await Promise.all([startSentinelSet({ downAfterMs: 1000 }), startRedis()]);
      servers = await spawnServers(2, {
        store: 'sentinel',
        sentinels: set.sentinels.map(({ host, port }) => ({ host, port })),
        sentinelName: SENTINEL_MASTER_NAME,
        prefix: 'rel-sentinel:',
        storeTimeoutMs: 1000,
        waitForReplicas,
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
      await Promise.all([set?.stop(), ledgerRedis?.stop()]);
    });

    it('follows the promoted replica: service resumes, no caller hangs, and the failover window and duplicated runs are counted', {
      timeout: FULL ? 240_000 : 60_000,
    }, async () => {
      // Hear the sentinels announce the new primary.
      const watcher = new Redis(set.sentinels[0]!.port, '127.0.0.1');
      let switchedAt: number | undefined;
      await watcher.subscribe('+switch-master');
      watcher.on('message', () => {
        switchedAt ??= performance.now();
      });

      const load = keepLoad(servers, WORKERS, 'sentinel-user');
      await sleep(WARM_UP_MS);
      const unreplicatedBytes = lagMs > 0 ? await cutOffReplica(set, lagMs) : 0;
      const killedAt = performance.now();
      set.primary.process.kill('SIGKILL');
      await sleep(REJOIN_AFTER_MS);
      await set.primary.restart();
      await sleep(AFTER_KILL_MS - REJOIN_AFTER_MS);
      const stopAskedAt = performance.now();
      await load.stop();
      const stopTookMs = performance.now() - stopAskedAt;
      watcher.disconnect();

      // Re-send every intent once its lease is surely over: a record the failover lost runs again now.
      await sleep(LEASE_MS + 500);
      const followUps = await inBatches(load.sent.length, 20, (index) => {
        const s = load.sent[index]!;
        return attempt({
          url: servers[index % servers.length]!.url,
          path: 'pay',
          input: s.input,
          key: s.key,
          user: s.user,
          timeoutMs: 10_000,
        });
      });
      const snapshot = await ledger.snapshot();
      const stats = await Promise.all(servers.map((server) => server.stats()));
      const newPrimaryPort = await set.currentPrimaryPort();

      const attempts = load.sent.flatMap((s) =>
        s.outcome.answers.map((answer, i) => ({ answer, at: s.outcome.times[i]! })),
      );
      const failuresAfterKill = attempts.filter((a) => a.at >= killedAt && failed(a.answer));
      const rejoinedAt = killedAt + REJOIN_AFTER_MS;
      const lastFailureAt = Math.max(killedAt, ...failuresAfterKill.map((a) => a.at));
      const hit = load.sent.filter((s) => s.finishedAt >= killedAt && s.outcome.answers.some(failed));
      const wrong = attempts.filter((a) => a.answer.kind === 'error');
      const unfinished = load.sent.filter((s) => s.outcome.final.kind !== 'ok');
      const lost = load.sent.filter((s, index) => {
        const followUp = followUps[index]!;
        const final = s.outcome.final;
        return final.kind === 'ok' && followUp.kind === 'ok' && followUp.data.orderId !== final.data.orderId;
      });
      const duplicated = [...snapshot.runs.entries()].filter(([, runs]) => runs > 1).map(([intent]) => intent);
      const worstIntentMs = Math.max(0, ...load.sent.map((s) => s.finishedAt - s.startedAt));
      const tally = (list: Array<{ answer: Answer }>) =>
        list.reduce<Record<string, number>>((acc, { answer }) => {
          const label = answer.kind === 'typed' ? `${answer.status} ${answer.code}` : answer.kind;
          acc[label] = (acc[label] ?? 0) + 1;
          return acc;
        }, {});

      recordFigures(`sentinel-failover-${name}`, {
        waitForReplicas: waitForReplicas ?? null,
        sentinelDownAfterMs: 1000,
        replicaCutOffBeforeKillMs: lagMs,
        unreplicatedBytesAtKill: unreplicatedBytes,
        intents: load.sent.length,
        attempts: attempts.length,
        throughputPerSecond: Math.round(load.sent.length / ((WARM_UP_MS + AFTER_KILL_MS) / 1000)),
        okLatencyP50Ms: Math.round(
          percentile(
            load.sent.filter((s) => s.finishedAt < killedAt).map((s) => s.finishedAt - s.startedAt),
            50,
          ),
        ),
        switchMasterAfterMs: switchedAt === undefined ? null : Math.round(switchedAt - killedAt),
        failoverWindowMs: Math.round(lastFailureAt - killedAt),
        failedAttemptsAfterKill: tally(failuresAfterKill),
        failedAttemptsAfterRejoin: failuresAfterKill.filter((a) => a.at >= rejoinedAt).length,
        killedPrimaryRestartedAfterMs: REJOIN_AFTER_MS,
        intentsHitByFailover: hit.length,
        worstIntentMs: Math.round(worstIntentMs),
        loadStoppedWithinMs: Math.round(stopTookMs),
        wrongAnswers: wrong.length,
        intentsUnfinished: unfinished.length,
        intentsRunMoreThanOnce: duplicated.length,
        completedRecordsLost: lost.length,
        ledgerEntries: snapshot.log.length,
        serverEvents: stats.map((s) => s.events),
        unhandledRejections: stats.reduce((sum, s) => sum + s.unhandledRejections, 0),
      });

      // The sentinels promoted the replica, and the store followed it.
      expect(switchedAt).toBeDefined();
      expect(newPrimaryPort).toBe(set.replica.port);
      expect(failuresAfterKill.length).toBeGreaterThan(0);
      expect(lastFailureAt).toBeLessThan(stopAskedAt - 1000);
      expect(attempts.filter((a) => a.at > lastFailureAt && a.answer.kind === 'ok').length).toBeGreaterThan(0);
      // No caller hangs: every intent ended, well within the time its retries allow, and the load stopped at once.
      expect(unfinished.map((s) => s.outcome.final)).toEqual([]);
      expect(worstIntentMs).toBeLessThan(AFTER_KILL_MS);
      expect(stopTookMs).toBeLessThan(10_000);
      expect(wrong.map((a) => a.answer)).toEqual([]);
      expect(followUps.filter(failed).slice(0, 3)).toEqual([]);
      expect(stats.map((s) => s.internalErrors + s.unhandledRejections)).toEqual([0, 0]);
      // Duplicated runs are what asynchronous replication allows; each must be explained by the failover.
      for (const intent of duplicated) {
        const s = load.sent.find((sent) => sent.intent === intent);
        expect(s === undefined || s.finishedAt >= killedAt || lost.includes(s)).toBe(true);
      }
    });
  },
);
