import { randomUUID } from 'node:crypto';
import type { DrainReport } from '@trpc-idempotency/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisProcess, startRedis } from '../support/redisServer.js';
import { Ledger } from './support/ledger.js';
import { keepLoad } from './support/load.js';
import { type ServerProcess, spawnServer } from './support/processes.js';
import { FULL, recordFigures, size } from './support/scale.js';
import type { ServerConfig } from './support/serverConfig.js';

const PROCESSES = 3;
const WORKERS = size(9, 24);
const STEADY_MS = size(1500, 5000);
/** Long on purpose: a lease left behind by a process that stopped would keep its intent waiting this long. */
const LEASE_MS = 10_000;
const DRAIN_TIMEOUT_MS = 5000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.each([
  { variant: 'SIGTERM drains the idempotency layer', name: 'drain', drain: true },
  // Full mode only: the same restart without drain(), for contrast (callers wait out the leases left behind).
  ...(FULL ? [{ variant: 'SIGTERM exits at once (no drain)', name: 'no-drain', drain: false }] : []),
])('rolling restart of 3 server processes under load: $variant', ({ name, drain }) => {
  let idem: RedisProcess;
  let ledgerRedis: RedisProcess;
  let ledger: Ledger;
  const started: ServerProcess[] = [];
  const namespace = `rolling-${randomUUID()}`;
  let config: ServerConfig;

  beforeAll(async () => {
    [idem, ledgerRedis] = await Promise.all([startRedis(), startRedis()]);
    ledger = new Ledger(ledgerRedis.url, namespace);
    config = {
      store: 'redis',
      redisUrl: idem.url,
      prefix: `rel-rolling-${name}:`,
      leaseMs: LEASE_MS,
      ledgerUrl: ledgerRedis.url,
      ledgerNamespace: namespace,
      // Handlers long enough that every SIGTERM finds some of them in flight.
      handlerSleepMs: [50, 400],
      ...(drain ? { drainOnSigterm: { timeoutMs: DRAIN_TIMEOUT_MS } } : {}),
    };
  });

  afterAll(async () => {
    ledger?.close();
    await Promise.all(started.map((server) => server.stop()));
    await Promise.all([idem?.stop(), ledgerRedis?.stop()]);
  });

  async function spawn(): Promise<ServerProcess> {
    const server = await spawnServer(config);
    started.push(server);
    return server;
  }

  it(drain
    ? 'replaces each process in turn: no caller waits out a lease left behind, and no intent runs twice'
    : 'replaces each process in turn, leaving the leases of its handlers behind', {
    timeout: FULL ? 240_000 : 60_000,
  }, async () => {
    // The load balancer's list: a stopping process stays in it until it is replaced, as with a real one.
    const servers = await Promise.all(Array.from({ length: PROCESSES }, spawn));
    const load = keepLoad(servers, WORKERS, 'rolling-user');
    const reports: DrainReport[] = [];
    const stopMs: number[] = [];
    for (let index = 0; index < PROCESSES; index++) {
      await sleep(STEADY_MS);
      const leaving = servers[index]!;
      const signalledAt = performance.now();
      leaving.signal('SIGTERM');
      await leaving.exited();
      stopMs.push(performance.now() - signalledAt);
      const drained = /DRAINED (.+)/.exec(leaving.stdout());
      if (drained) reports.push(JSON.parse(drained[1]!) as DrainReport);
      servers[index] = await spawn();
    }
    await sleep(STEADY_MS);
    await load.stop();

    const snapshot = await ledger.snapshot();
    const runsAbove1 = [...snapshot.runs.entries()].filter(([, runs]) => runs > 1);
    const unfinished = load.sent.filter((s) => s.outcome.final.kind !== 'ok');
    // How long each intent waited on 409 IN_PROGRESS: from its first such answer to its end.
    const inProgressWaits = load.sent.map((s) => {
      const first = s.outcome.answers.findIndex((a) => a.kind === 'typed' && a.code === 'IN_PROGRESS');
      return first < 0 ? 0 : s.finishedAt - s.outcome.times[first]!;
    });
    const tally: Record<string, number> = {};
    for (const answer of load.sent.flatMap((s) => s.outcome.answers)) {
      const label = answer.kind === 'typed' ? `${answer.status} ${answer.code}` : answer.kind;
      tally[label] = (tally[label] ?? 0) + 1;
    }
    const wrong = load.sent.flatMap((s) => s.outcome.answers).filter((a) => a.kind === 'error' && a.status !== 503);
    const stats = await Promise.all(servers.map((server) => server.stats()));

    recordFigures(`rolling-restart-${name}`, {
      processes: PROCESSES,
      leaseMs: LEASE_MS,
      drainTimeoutMs: drain ? DRAIN_TIMEOUT_MS : null,
      intents: load.sent.length,
      answers: tally,
      processStopMs: stopMs.map(Math.round),
      drainReports: reports.map((r) => ({
        finished: r.finished,
        refused: r.refused,
        released: r.released.length,
        unsettled: r.unsettled.length,
        durationMs: r.durationMs,
      })),
      intentsThatWaitedOnALease: inProgressWaits.filter((ms) => ms > 0).length,
      longestInProgressWaitMs: Math.round(Math.max(0, ...inProgressWaits)),
      longestIntentMs: Math.round(Math.max(0, ...load.sent.map((s) => s.finishedAt - s.startedAt))),
      intentsRunMoreThanOnce: runsAbove1.length,
      intentsUnfinished: unfinished.length,
      ledgerEntries: snapshot.log.length,
      wrongAnswers: wrong.length,
    });

    expect(unfinished.map((s) => s.outcome.final)).toEqual([]);
    expect(wrong.slice(0, 3)).toEqual([]);
    expect(stats.map((s) => s.internalErrors + s.unhandledRejections)).toEqual(Array(PROCESSES).fill(0));
    if (!drain) return;
    // Each process drained: its handlers in flight finished and settled, and it left nothing behind.
    expect(reports).toHaveLength(PROCESSES);
    for (const report of reports) expect(report).toMatchObject({ released: [], unsettled: [] });
    expect(reports.reduce((sum, r) => sum + r.finished, 0)).toBeGreaterThan(0);
    // No caller waited a lease out, and every intent ran its handler exactly once, with one ledger entry.
    expect(Math.max(0, ...inProgressWaits)).toBeLessThan(LEASE_MS / 2);
    expect(runsAbove1).toEqual([]);
    expect(snapshot.runs.size).toBe(load.sent.length);
    expect(snapshot.log).toHaveLength(load.sent.length);
  });
});
