import { randomUUID } from 'node:crypto';
import { type CallerOutcome, callWithRetries } from './client.js';
import type { ServerProcess } from './processes.js';

/** One intent that the steady load sent, and what its caller saw. */
export interface SentIntent {
  intent: string;
  key: string;
  user: string;
  input: { intent: string; amount: number };
  outcome: CallerOutcome;
  startedAt: number;
  finishedAt: number;
}

/**
 * Keeps `workers` callers sending fresh intents to random server processes, each retried until it
 * is done (docs/protocol.md §4), until `stop()` is called. Used while a store fails underneath.
 */
export function keepLoad(
  servers: ServerProcess[],
  workers: number,
  user: string,
  options: { retryServerErrors?: boolean } = {},
) {
  let running = true;
  let counter = 0;
  const sent: SentIntent[] = [];
  const done = Promise.all(
    Array.from({ length: workers }, async () => {
      while (running) {
        const intent = `intent-${counter++}`;
        const key = randomUUID();
        const input = { intent, amount: 700 };
        const startedAt = performance.now();
        const outcome = await callWithRetries(
          { path: 'pay', input, key, user },
          () => servers[Math.floor(Math.random() * servers.length)]!.url,
          { attempts: 60, baseMs: 50, capMs: 500, timeoutMs: () => 3000, ...options },
        );
        sent.push({ intent, key, user, input, outcome, startedAt, finishedAt: performance.now() });
      }
    }),
  );
  return {
    sent,
    async stop() {
      running = false;
      await done;
    },
  };
}
