import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisProcess, startRedis } from '../support/redisServer.js';
import { attempt, type CallerOutcome, callWithRetries, inBatches } from './support/client.js';
import { Ledger, type LedgerSnapshot } from './support/ledger.js';
import { type ServerProcess, spawnServer } from './support/processes.js';
import { FULL, recordFigures, size, waitUntil } from './support/scale.js';
import type { ServerConfig } from './support/serverConfig.js';

const INTENTS = size(20, 200);
const LEASE_MS = 2000;

/** How many intents ran how many times, e.g. `{ "2": 20 }`. */
function runsHistogram(snapshot: LedgerSnapshot): Record<string, number> {
  const histogram: Record<string, number> = {};
  for (const runs of snapshot.runs.values()) histogram[runs] = (histogram[runs] ?? 0) + 1;
  return histogram;
}

describe('crash: a server process dies (kill -9) or stalls (SIGSTOP) while it holds leases', () => {
  let idem: RedisProcess;
  let ledgerRedis: RedisProcess;
  let healthy: ServerProcess[] = [];
  const started: ServerProcess[] = [];

  const baseConfig = (namespace: string): ServerConfig => ({
    store: 'redis',
    redisUrl: idem.url,
    prefix: 'rel-crash:',
    leaseMs: LEASE_MS,
    ledgerUrl: ledgerRedis.url,
    ledgerNamespace: namespace,
    handlerSleepMs: [0, 10],
  });

  beforeAll(async () => {
    [idem, ledgerRedis] = await Promise.all([startRedis(), startRedis()]);
  });

  afterAll(async () => {
    await Promise.all(started.map((server) => server.stop()));
    await Promise.all([idem?.stop(), ledgerRedis?.stop()]);
  });

  async function spawn(config: ServerConfig): Promise<ServerProcess> {
    const server = await spawnServer(config);
    started.push(server);
    return server;
  }

  /** Sends every intent first to `victim`, and every retry to a healthy process. */
  function sendAll(victim: ServerProcess, keys: string[], firstAttemptTimeoutMs: number): Promise<CallerOutcome[]> {
    return inBatches(keys.length, keys.length, (index) =>
      callWithRetries(
        { path: 'pay', input: { intent: `intent-${index}`, amount: 500 }, key: keys[index]!, user: 'crash-user' },
        (n) => (n === 1 ? victim.url : healthy[n % healthy.length]!.url),
        {
          attempts: 30,
          baseMs: 100,
          capMs: 1000,
          timeoutMs: (() => {
            let first = true;
            return () => {
              const ms = first ? firstAttemptTimeoutMs : 5000;
              first = false;
              return ms;
            };
          })(),
        },
      ),
    );
  }

  it('after kill -9 the leases run out, retries complete on the other processes, and each intent has one ledger entry', {
    timeout: FULL ? 180_000 : 60_000,
  }, async () => {
    const namespace = `crash-kill-${randomUUID()}`;
    const ledger = new Ledger(ledgerRedis.url, namespace);
    try {
      healthy = await Promise.all([spawn(baseConfig(namespace)), spawn(baseConfig(namespace))]);
      // The victim's handlers sleep far longer than the test: they hold their leases until it dies.
      const victim = await spawn({ ...baseConfig(namespace), handlerSleepMs: [600_000, 600_000] });
      const keys = Array.from({ length: INTENTS }, () => randomUUID());

      const calls = sendAll(victim, keys, 600_000);
      await waitUntil('every intent to be running on the victim', async () => (await ledger.total('runs')) === INTENTS);
      const killedAt = performance.now();
      victim.signal('SIGKILL');
      await victim.exited();
      const outcomes = await calls;
      const recoveredAfterMs = performance.now() - killedAt;

      const snapshot = await ledger.snapshot();
      const finals = outcomes.map((outcome) => outcome.final);
      const replays = await inBatches(INTENTS, 20, (index) =>
        attempt({
          url: healthy[index % healthy.length]!.url,
          path: 'pay',
          input: { intent: `intent-${index}`, amount: 500 },
          key: keys[index]!,
          user: 'crash-user',
          timeoutMs: 10_000,
        }),
      );
      recordFigures('crash-kill', {
        intents: INTENTS,
        leaseMs: LEASE_MS,
        completedAfterKillMs: Math.round(recoveredAfterMs),
        runsPerIntent: runsHistogram(snapshot),
        ledgerEntries: snapshot.log.length,
        ledgerWritesRefusedAsStale: [...snapshot.rejected.values()].reduce((a, b) => a + b, 0),
        finalAnswers: finals.reduce<Record<string, number>>((tally, answer) => {
          tally[answer.kind] = (tally[answer.kind] ?? 0) + 1;
          return tally;
        }, {}),
      });

      expect(finals.filter((answer) => answer.kind !== 'ok')).toEqual([]);
      for (let index = 0; index < INTENTS; index++) {
        const intent = `intent-${index}`;
        // One run on the victim (it never wrote), one after the takeover that wrote once.
        expect(snapshot.runs.get(intent)).toBe(2);
        expect(snapshot.entries.get(intent)).toBe(1);
        const entry = snapshot.log.find((logged) => logged.intent === intent)!;
        expect(entry.fence).toBe(2);
        expect(entry.pid).not.toBe(victim.pid);
        const final = finals[index]!;
        expect(final.kind === 'ok' && final.data.orderId).toBe(entry.orderId);
        const replay = replays[index]!;
        expect(replay.kind === 'ok' && replay.replayed && replay.data.orderId).toBe(entry.orderId);
      }
      expect(snapshot.log).toHaveLength(INTENTS);
    } finally {
      ledger.close();
      await Promise.all(healthy.map((server) => server.stop()));
    }
  });

  it('a stalled holder that wakes after a takeover is refused by the ledger: its fence is no longer the newest', {
    timeout: FULL ? 180_000 : 60_000,
  }, async () => {
    const namespace = `crash-stop-${randomUUID()}`;
    const ledger = new Ledger(ledgerRedis.url, namespace);
    try {
      healthy = await Promise.all([spawn(baseConfig(namespace)), spawn(baseConfig(namespace))]);
      // Its handlers sleep 1 s, but the process is stopped before they wake: when it resumes, their
      // sleep is over and each one goes straight on to its ledger write, with the old fence.
      const victim = await spawn({ ...baseConfig(namespace), handlerSleepMs: [1000, 1000] });
      const keys = Array.from({ length: INTENTS }, () => randomUUID());

      const calls = sendAll(victim, keys, 3000);
      await waitUntil('every intent to be running on the victim', async () => (await ledger.total('runs')) === INTENTS);
      victim.signal('SIGSTOP');
      const outcomes = await calls;
      const takenOver = await ledger.snapshot();
      victim.signal('SIGCONT');
      await waitUntil('the woken holders to try their ledger writes', async () => {
        return (await ledger.total('rejected')) + (await ledger.total('entries')) >= 2 * INTENTS;
      });
      const snapshot = await ledger.snapshot();
      const stats = await victim.stats();
      const replays = await inBatches(INTENTS, 20, (index) =>
        attempt({
          url: victim.url,
          path: 'pay',
          input: { intent: `intent-${index}`, amount: 500 },
          key: keys[index]!,
          user: 'crash-user',
          timeoutMs: 10_000,
        }),
      );
      recordFigures('crash-stop', {
        intents: INTENTS,
        leaseMs: LEASE_MS,
        runsPerIntent: runsHistogram(snapshot),
        ledgerEntries: snapshot.log.length,
        ledgerWritesRefusedAsStale: [...snapshot.rejected.values()].reduce((a, b) => a + b, 0),
      });

      expect(outcomes.filter((outcome) => outcome.final.kind !== 'ok')).toEqual([]);
      expect(takenOver.log).toHaveLength(INTENTS);
      for (let index = 0; index < INTENTS; index++) {
        const intent = `intent-${index}`;
        expect(snapshot.runs.get(intent)).toBe(2);
        expect(snapshot.entries.get(intent)).toBe(1);
        expect(snapshot.rejected.get(intent)).toBe(1);
        const entry = snapshot.log.find((logged) => logged.intent === intent)!;
        expect(entry.fence).toBe(2);
        // The stale holder's late completion was refused too: the store replays the newer outcome.
        const replay = replays[index]!;
        expect(replay.kind === 'ok' && replay.data.orderId).toBe(entry.orderId);
      }
      expect(snapshot.log).toHaveLength(INTENTS);
      expect(stats.internalErrors + stats.unhandledRejections).toBe(0);
    } finally {
      ledger.close();
      await Promise.all(healthy.map((server) => server.stop()));
    }
  });
});
