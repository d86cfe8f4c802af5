import { randomUUID } from 'node:crypto';
import autocannon from 'autocannon';
import superjson from 'superjson';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ServerProcess, spawnServer } from './support/processes.js';
import { FULL, recordFigures, size, waitUntil } from './support/scale.js';
import type { ServerStats } from './support/serverConfig.js';

const DURATION_S = size(8, 60);
const CONNECTIONS = 64;
const DUPLICATE_SHARE = 0.1;
// Retention is short so that the MemoryStore reaches its steady size within the run: with the 24 h
// default it holds every record for a day, which is retention, not a leak (RELIABILITY.md gives the
// cost per record). Flat memory then means: records, timers and listeners all go away on time.
const RETENTION_MS = size(2000, 10_000);
const WARM_UP_S = size(3, 15);
const MB = 1024 * 1024;

/** Slope of a least-squares line through (t, y), in y units per t unit. */
function slope(points: Array<{ t: number; y: number }>): number {
  const n = points.length;
  const mt = points.reduce((s, p) => s + p.t, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  const num = points.reduce((s, p) => s + (p.t - mt) * (p.y - my), 0);
  const den = points.reduce((s, p) => s + (p.t - mt) ** 2, 0);
  return den === 0 ? 0 : num / den;
}

describe(`load held: ${DURATION_S} s at ${CONNECTIONS} connections, 10% duplicates, MemoryStore`, () => {
  let server: ServerProcess;

  beforeAll(async () => {
    server = await spawnServer(
      { store: 'memory', leaseMs: RETENTION_MS / 2, retentionMs: RETENTION_MS },
      { exposeGc: true },
    );
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('keeps the server heap flat after warm-up, with zero unhandled rejections and no 5xx', {
    timeout: (DURATION_S + 60) * 1000,
  }, async () => {
    const before = await server.stats();
    const recent: string[] = [];
    let duplicatesSent = 0;
    const samples: Array<{ t: number; stats: ServerStats }> = [];
    const startedAt = performance.now();
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        await new Promise((resolve) => setTimeout(resolve, 1000));
        if (sampling) samples.push({ t: (performance.now() - startedAt) / 1000, stats: await server.stats() });
      }
    })();

    const result = await autocannon({
      url: server.url,
      connections: CONNECTIONS,
      duration: DURATION_S,
      requests: [
        {
          method: 'POST',
          path: '/pay',
          setupRequest: (request) => {
            let key: string;
            if (recent.length > 0 && Math.random() < DUPLICATE_SHARE) {
              key = recent[Math.floor(Math.random() * recent.length)]!;
              duplicatesSent++;
            } else {
              key = randomUUID();
              recent.push(key);
              if (recent.length > 1000) recent.shift();
            }
            return {
              ...request,
              headers: { 'content-type': 'application/json', 'idempotency-key': key, 'x-user': 'load-user' },
              body: JSON.stringify(superjson.serialize({ intent: key, amount: 100 })),
            };
          },
        },
      ],
    });
    sampling = false;
    await sampler;

    // Once the load stops and retention has passed, the store is swept empty and the handles are back.
    await waitUntil('the MemoryStore to be swept', async () => (await server.stats()).memoryStoreSize === 0, {
      timeoutMs: RETENTION_MS + 10_000,
      everyMs: 500,
    });
    const after = await server.stats();

    const steady = samples.filter((s) => s.t >= WARM_UP_S);
    const heap = steady.map((s) => ({ t: s.t, y: s.stats.memory.heapUsed / MB }));
    const firstHalf = heap.slice(0, Math.ceil(heap.length / 2));
    const secondHalf = heap.slice(Math.ceil(heap.length / 2));
    const mean = (list: Array<{ y: number }>) => list.reduce((s, p) => s + p.y, 0) / Math.max(1, list.length);
    const growthMb = mean(secondHalf) - mean(firstHalf);
    const statusCodes = Object.fromEntries(
      Object.entries(result.statusCodeStats ?? {}).map(([code, stat]) => [code, stat?.count ?? 0]),
    );

    recordFigures('load-held', {
      durationS: DURATION_S,
      connections: CONNECTIONS,
      retentionMs: RETENTION_MS,
      requests: result.requests.total,
      requestsPerSecond: Math.round(result.requests.average),
      latencyP50Ms: result.latency.p50,
      latencyP99Ms: result.latency.p99,
      duplicatesSent,
      statusCodes,
      socketErrors: result.errors,
      timeouts: result.timeouts,
      heapUsedMbBefore: Number((before.memory.heapUsed / MB).toFixed(1)),
      heapUsedMbSteadyFirstHalf: Number(mean(firstHalf).toFixed(1)),
      heapUsedMbSteadySecondHalf: Number(mean(secondHalf).toFixed(1)),
      heapSlopeMbPerMinute: Number((slope(heap) * 60).toFixed(2)),
      heapUsedMbAfterSweep: Number((after.memory.heapUsed / MB).toFixed(1)),
      rssMbAfterSweep: Number((after.memory.rss / MB).toFixed(1)),
      peakStoreSize: Math.max(...samples.map((s) => s.stats.memoryStoreSize ?? 0)),
      activeResourcesBefore: before.activeResources,
      activeResourcesAfter: after.activeResources,
      unhandledRejections: after.unhandledRejections,
    });

    expect(result.requests.total).toBeGreaterThan(0);
    expect(result['5xx']).toBe(0);
    expect(result.errors).toBe(0);
    expect(after.unhandledRejections).toBe(0);
    expect(after.internalErrors).toBe(0);
    expect(steady.length).toBeGreaterThanOrEqual(3);
    // Generous bounds: a leak of even ~100 bytes per request would cross them at these rates.
    expect(growthMb).toBeLessThan(FULL ? 15 : 10);
    expect(after.memory.heapUsed / MB).toBeLessThan(before.memory.heapUsed / MB + 10);
    // Lease keepers and retries are timers: none may outlive its request.
    expect(after.activeResources).toBeLessThanOrEqual(before.activeResources + 2);
  });
});
