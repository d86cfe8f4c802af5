import { randomUUID } from 'node:crypto';
import { RedisStore } from '@trpc-idempotency/server';
import { Redis } from 'ioredis';
import superjson from 'superjson';
// The compression itself is internal to the server package; the bench measures it directly.
import { compressOutcomeText, decompressOutcomeText } from '../../packages/server/src/compression.js';
import { median } from './stats';
import { fixed, markdownTable } from './table';

/** What storing one outcome of one size costs, plain and compressed. */
export interface CompressionResult {
  label: string;
  plainBytes: number;
  storedBytes: number;
  /** Median ms to compress the outcome's text (on completion). */
  compressMs: number;
  /** Median ms to decompress it (on each replay). */
  decompressMs: number;
  /** Redis MEMORY USAGE of the record, plain and compressed. */
  redisPlainBytes: number;
  redisCompressedBytes: number;
  /** Median ms of a replay (one claim answering `completed`), plain and compressed, same Redis. */
  replayPlainMs: number;
  replayCompressedMs: number;
}

/** An outcome as an app returns it: a list of orders, serialized as superjson would store it. */
function ordersOutcome(rows: number): string {
  const orders = Array.from({ length: rows }, (_, i) => ({
    id: `ord_${String(i).padStart(6, '0')}`,
    item: i % 3 ? 'Espresso beans, 1 kg' : 'Pour-over kettle',
    cents: 1999 + (i % 17) * 100,
    createdAt: new Date(Date.UTC(2026, 0, 1, 0, 0, i)),
    customer: { id: `cus_${i % 41}`, country: ['DE', 'FR', 'GB'][i % 3] },
  }));
  return JSON.stringify({ ok: true, data: superjson.serialize(orders), u: false });
}

const time = (run: () => void, times: number): number => {
  const samples: number[] = [];
  for (let i = 0; i < times; i++) {
    const startedAt = performance.now();
    run();
    samples.push(performance.now() - startedAt);
  }
  return median(samples);
};

/**
 * Measures `compressOutcomes` side by side with plain storage, in one run: bytes kept, CPU per completion
 * and per replay, Redis memory per record, and the latency of a replay over a real Redis.
 */
export async function measureCompression(redisUrl: string, quick: boolean): Promise<CompressionResult[]> {
  const redis = new Redis(redisUrl);
  const prefix = `bench-compress-${randomUUID().slice(0, 8)}:`;
  const store = new RedisStore({ redis, prefix });
  const sizes = quick
    ? [['~16 KB', 80]]
    : [
        ['~16 KB', 80],
        ['~64 KB', 320],
        ['~256 KB', 1300],
        ['~1 MB', 5200],
      ];
  const repeats = quick ? 5 : 30;
  const results: CompressionResult[] = [];
  try {
    for (const [label, rows] of sizes as Array<[string, number]>) {
      const plain = ordersOutcome(rows);
      const packed = compressOutcomeText(plain, 0);
      const compressMs = time(() => compressOutcomeText(plain, 0), repeats);
      const decompressMs = time(() => decompressOutcomeText(packed), repeats);
      const measured: Array<{ memory: number; replayMs: number }> = [];
      for (const outcome of [plain, packed]) {
        const recordKey = `{${randomUUID()}}`;
        const token = randomUUID();
        const lease = { recordKey, fingerprint: 'f', token, leaseMs: 30_000, retentionMs: 60_000 };
        await store.claim(lease);
        await store.complete({ recordKey, token, outcome, retentionMs: 60_000 });
        const replays: number[] = [];
        for (let i = 0; i < repeats; i++) {
          const startedAt = performance.now();
          const reply = await store.claim({ ...lease, token: randomUUID() });
          replays.push(performance.now() - startedAt);
          if (reply.status !== 'completed') throw new Error(`replay answered ${reply.status}`);
        }
        measured.push({
          memory: Number(await redis.call('MEMORY', 'USAGE', prefix + recordKey, 'SAMPLES', '0')),
          replayMs: median(replays),
        });
      }
      results.push({
        label,
        plainBytes: Buffer.byteLength(plain),
        storedBytes: Buffer.byteLength(packed),
        compressMs,
        decompressMs,
        redisPlainBytes: measured[0]!.memory,
        redisCompressedBytes: measured[1]!.memory,
        replayPlainMs: measured[0]!.replayMs,
        replayCompressedMs: measured[1]!.replayMs,
      });
    }
  } finally {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  }
  return results;
}

/** The compression figures as a Markdown table. */
export function compressionTable(results: CompressionResult[]): string {
  return markdownTable(
    [
      'outcome',
      'plain bytes',
      'stored compressed',
      'ratio',
      'compress ms',
      'decompress ms',
      'Redis record, plain',
      'Redis record, compressed',
      'replay ms, plain',
      'replay ms, compressed',
    ],
    results.map((r) => [
      r.label,
      String(r.plainBytes),
      String(r.storedBytes),
      fixed(r.plainBytes / r.storedBytes, 1),
      fixed(r.compressMs, 2),
      fixed(r.decompressMs, 2),
      String(r.redisPlainBytes),
      String(r.redisCompressedBytes),
      fixed(r.replayPlainMs, 2),
      fixed(r.replayCompressedMs, 2),
    ]),
    ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
  );
}
