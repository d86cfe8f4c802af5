/*
 * Measures what completed MemoryStore records keep on the heap, in a process of its own (forked with
 * --expose-gc by memoryHeap.ts) so that nothing else lives on its heap. It fills one store the way the
 * middleware does: a record key hashed from (namespace, scope, path, key), the input's fingerprint, a
 * random lease token, then the outcome, each a string of its own per record, as each request makes them.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { MemoryStore } from '@trpc-idempotency/server';
import superjson from 'superjson';
import { fingerprintInput, recordKeyFor } from '../../packages/server/src/hashing';
import { ORDER_INPUT } from './load';

/** What the child sends back. */
export interface HeapReply {
  records: number;
  heapBeforeBytes: number;
  heapAfterBytes: number;
  outcomeBytes: number;
}

const records = Number(process.env.BENCH_HEAP_RECORDS ?? 100_000);
const OUTCOME_BYTES = 200;
const LEASE_MS = 30_000;
const RETENTION_MS = 24 * 60 * 60 * 1000;
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('memoryHeapProcess needs node --expose-gc');

/** The stored text of a success, as encodeSuccess writes it, padded by its note to exactly OUTCOME_BYTES. */
function outcomeFor(orderId: number): string {
  const data = (note: string) =>
    JSON.stringify({
      ok: true,
      data: superjson.serialize({ orderId, item: ORDER_INPUT.item, qty: ORDER_INPUT.qty, note }),
      u: false,
    });
  return data('x'.repeat(OUTCOME_BYTES - data('').length));
}

/**
 * Settles the heap and reads it: full collections until two readings agree within 4 KB. Each waits 100 ms
 * after its collection, since V8 frees pages on sweeper threads after `gc()` returns, and a heap read at once
 * still counts garbage: read at once, three runs of 100,000 records measured 400 to 401 bytes per record and
 * 50,000 records 375; settled, both measure 378 to 386.
 */
async function collect(): Promise<number> {
  let used = Number.POSITIVE_INFINITY;
  for (let attempt = 0; attempt < 10; attempt++) {
    gc!();
    await delay(100);
    const now = process.memoryUsage().heapUsed;
    if (Math.abs(used - now) < 4096) return now;
    used = now;
  }
  return used;
}

const store = new MemoryStore();
// The outcomes' ids start at 10^7, so that every outcome has the same length with the same padding.
const firstId = 10_000_000;
// Warm the code paths first, so that the heap figure holds records, not compiled code.
const warm = new MemoryStore();
for (let i = 0; i < 1000; i++) {
  const recordKey = recordKeyFor('default', 'scope:warm-user', 'plainIo', `warm-${i}`);
  const token = randomUUID();
  await warm.claim({ recordKey, fingerprint: 'f', token, leaseMs: LEASE_MS, retentionMs: RETENTION_MS });
  await warm.complete({ recordKey, token, outcome: outcomeFor(firstId + i), retentionMs: RETENTION_MS });
}
warm.close();
const outcomeBytes = outcomeFor(firstId).length;
const heapBeforeBytes = await collect();
for (let i = 0; i < records; i++) {
  // An Idempotency-Key as createIdempotentClient makes one (a UUID), and the scope the bench app gives.
  const recordKey = recordKeyFor('default', 'scope:bench-user', 'orders.create', randomUUID());
  const fingerprint = fingerprintInput(superjson, ORDER_INPUT);
  const token = randomUUID();
  const claim = await store.claim({ recordKey, fingerprint, token, leaseMs: LEASE_MS, retentionMs: RETENTION_MS });
  if (claim.status !== 'claimed') throw new Error(`claim answered ${claim.status}`);
  if (!(await store.complete({ recordKey, token, outcome: outcomeFor(firstId + i), retentionMs: RETENTION_MS }))) {
    throw new Error('complete was refused');
  }
}
const heapAfterBytes = await collect();
if (store.size !== records) throw new Error(`the store holds ${store.size} records, not ${records}`);
store.close();
process.send?.({ records, heapBeforeBytes, heapAfterBytes, outcomeBytes } satisfies HeapReply);
process.disconnect?.();
