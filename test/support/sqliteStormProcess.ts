/*
 * Run as `node --import tsx test/support/sqliteStormProcess.ts <file> <index> <processes> <intents> <callers> <startAt>`:
 * one of several processes that claim and complete the same intents on one SQLite file. Each caller of each
 * intent whose number falls to this process claims it; the winner completes it. Starts at the wall-clock
 * time `startAt` (so that all processes storm at once), and prints its counts as JSON.
 */
import { SqliteStore } from '@trpc-idempotency/sqlite';

const [filename, index, processes, intents, callers, startAt] = process.argv.slice(2);
const me = Number(index);
const store = await new SqliteStore({ filename: filename!, busyTimeoutMs: 2000 }).ready();
await new Promise((resolve) => setTimeout(resolve, Math.max(0, Number(startAt) - Date.now())));

const counts = { claimed: 0, answered: 0, errors: 0, maxMs: 0, error: undefined as string | undefined };
const calls: Array<Promise<void>> = [];
for (let intent = 0; intent < Number(intents); intent++) {
  for (let caller = 0; caller < Number(callers); caller++) {
    if ((intent * Number(callers) + caller) % Number(processes) !== me) continue;
    const recordKey = `intent-${intent}`;
    const token = `${me}-${intent}-${caller}`;
    calls.push(
      (async () => {
        const started = performance.now();
        let claim: Awaited<ReturnType<typeof store.claim>> | undefined;
        try {
          claim = await store.claim({ recordKey, fingerprint: 'f', token, leaseMs: 30_000, retentionMs: 600_000 });
        } catch (error) {
          counts.errors++;
          counts.error ??= String((error as Error).cause ?? error);
        }
        if (claim?.status === 'claimed') {
          counts.claimed++;
          // As the middleware does after a store error: the completion is tried again.
          for (let attempt = 1; ; attempt++) {
            try {
              await store.complete({ recordKey, token, outcome: token, retentionMs: 600_000 });
              break;
            } catch (error) {
              if (attempt === 5) throw error;
            }
          }
        } else if (claim) counts.answered++;
        counts.maxMs = Math.max(counts.maxMs, Math.round(performance.now() - started));
      })(),
    );
    // Let other processes' calls in between, as requests arriving over time would.
    if (calls.length % 50 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
}
await Promise.all(calls);
await store.close();
console.log(JSON.stringify(counts));
