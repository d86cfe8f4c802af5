/*
 * Run as `node --expose-gc --import tsx test/support/memoryBoundProcess.ts <maxBytes>`: fills a MemoryStore
 * until it refuses, through its public API, with 200-byte outcomes, and prints what it holds and how much
 * heap the records took (settled after full collections), as JSON.
 */
import { MemoryStore, StoreFullError } from '@trpc-idempotency/server';

const maxBytes = Number(process.argv[2]);
const gc = (globalThis as { gc?: () => void }).gc!;
const settledHeap = async () => {
  let last = Number.NaN;
  for (let i = 0; i < 10; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const used = process.memoryUsage().heapUsed;
    if (Math.abs(used - last) < 64 * 1024) return used;
    last = used;
  }
  return last;
};

const store = new MemoryStore({ maxBytes });
const outcome = JSON.stringify({ ok: true, data: { text: 'x'.repeat(170) }, u: false });
const before = await settledHeap();
let refusedAfter = -1;
for (let i = 0; i < 10_000_000; i++) {
  const recordKey = `${i.toString(16).padStart(8, '0')}${'a'.repeat(56)}`;
  const base = { recordKey, fingerprint: 'f'.repeat(64), token: `t-${i}`, leaseMs: 30_000, retentionMs: 3_600_000 };
  try {
    await store.claim(base);
  } catch (error) {
    if (!(error instanceof StoreFullError)) throw error;
    refusedAfter = i;
    break;
  }
  await store.complete({ recordKey, token: base.token, outcome, retentionMs: 3_600_000 });
}
const after = await settledHeap();
console.log(JSON.stringify({ refusedAfter, ...store.usage(), heapBytes: after - before }));
store.close();
