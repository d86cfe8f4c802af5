import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisProcess, startRedis } from '../support/redisServer.js';
import { type Answer, attempt, type CallerOutcome, callWithRetries, inBatches } from './support/client.js';
import { Ledger } from './support/ledger.js';
import { type ServerProcess, spawnServers } from './support/processes.js';
import { FULL, recordFigures, size } from './support/scale.js';

const INTENTS = size(200, 2000);
const CALLERS = 10;
const PROCESSES = 4;
const INTENTS_AT_ONCE = size(15, 30);

describe('storm: every intent sent 10 times at once, over 4 server processes on one Redis', () => {
  let idem: RedisProcess;
  let ledgerRedis: RedisProcess;
  let servers: ServerProcess[];
  let ledger: Ledger;
  const namespace = `storm-${randomUUID()}`;

  beforeAll(async () => {
    [idem, ledgerRedis] = await Promise.all([startRedis(), startRedis()]);
    servers = await spawnServers(PROCESSES, {
      store: 'redis',
      redisUrl: idem.url,
      prefix: 'rel-storm:',
      leaseMs: 5000,
      ledgerUrl: ledgerRedis.url,
      ledgerNamespace: namespace,
      // Long enough that the 10 callers of an intent overlap with its one run.
      handlerSleepMs: [5, 60],
    });
    ledger = new Ledger(ledgerRedis.url, namespace);
  });

  afterAll(async () => {
    ledger?.close();
    await Promise.all((servers ?? []).map((server) => server.stop()));
    await Promise.all([idem?.stop(), ledgerRedis?.stop()]);
  });

  it(`runs the handler exactly once per intent (${INTENTS} intents x ${CALLERS} callers); every caller gets that result or a typed error`, {
    timeout: FULL ? 420_000 : 90_000,
  }, async () => {
    const pick = () => servers[Math.floor(Math.random() * servers.length)]!.url;
    const startedAt = performance.now();
    const keys = Array.from({ length: INTENTS }, () => randomUUID());
    const outcomes: CallerOutcome[][] = await inBatches(INTENTS, INTENTS_AT_ONCE, (index) => {
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
    const followUps = await inBatches(INTENTS, 50, (index) =>
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

    recordFigures('storm', {
      processes: PROCESSES,
      intents: INTENTS,
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
    expect(snapshot.runs.size).toBe(INTENTS);
    expect(runsPerIntent.every((runs) => runs === 1)).toBe(true);
    expect(snapshot.log).toHaveLength(INTENTS);
    expect(new Set(snapshot.log.map((entry) => entry.intent)).size).toBe(INTENTS);
    expect(followUpMismatches.slice(0, 5)).toEqual([]);
    // Processes really shared the work: each one ran some of the handlers.
    expect(new Set(snapshot.log.map((entry) => entry.pid)).size).toBe(PROCESSES);
    expect(stats.map((s) => s.internalErrors + s.unhandledRejections)).toEqual(Array(PROCESSES).fill(0));
  });
});
