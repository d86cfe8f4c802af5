import { fork } from 'node:child_process';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HeapReply } from './memoryHeapProcess';
import type { TargetCheck } from './report';
import { fixed, markdownTable } from './table';

const here = dirname(fileURLToPath(import.meta.url));
/** The budget for 100,000 completed MemoryStore records with 200-byte outcomes, in MB (10^6 bytes). */
const MB_PER_100K_TARGET = 40;

/** What completed MemoryStore records keep on the heap, scaled to 100,000 records. */
export interface MemoryHeapResult {
  records: number;
  outcomeBytes: number;
  bytesPerRecord: number;
  mbPer100k: number;
}

/** Fills a MemoryStore with `records` completed records in a child process of its own and reads its heap. */
export async function measureMemoryHeap(records: number): Promise<MemoryHeapResult> {
  const child = fork(join(here, 'memoryHeapProcess.ts'), [], {
    execArgv: ['--expose-gc', '--import', 'tsx'],
    env: {
      ...process.env,
      BENCH_HEAP_RECORDS: String(records),
      TSX_TSCONFIG_PATH: join(here, '..', 'tsconfig.json'),
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const [reply] = (await Promise.race([
    once(child, 'message'),
    once(child, 'exit').then(([code]) => {
      throw new Error(`the MemoryStore heap process exited with code ${code} before it answered`);
    }),
  ])) as [HeapReply];
  const bytesPerRecord = (reply.heapAfterBytes - reply.heapBeforeBytes) / reply.records;
  return {
    records: reply.records,
    outcomeBytes: reply.outcomeBytes,
    bytesPerRecord,
    mbPer100k: (bytesPerRecord * 100_000) / 1e6,
  };
}

/** The heap figure as a table. */
export function memoryHeapTable(result: MemoryHeapResult): string {
  return markdownTable(
    ['records filled', 'outcome bytes', 'heap bytes/record', 'MB per 100k records'],
    [
      [
        String(result.records),
        String(result.outcomeBytes),
        fixed(result.bytesPerRecord, 0),
        fixed(result.mbPer100k, 1),
      ],
    ],
    ['r', 'r', 'r', 'r'],
  );
}

/** The heap target of the issue. */
export function memoryHeapTargets(result: MemoryHeapResult): TargetCheck[] {
  return [
    {
      target: `heap per 100k completed MemoryStore records (200-byte outcomes) ≤ ${MB_PER_100K_TARGET} MB`,
      measured: `${fixed(result.mbPer100k, 1)} MB (${fixed(result.bytesPerRecord, 0)} bytes/record over ${result.records} records)`,
      met: result.mbPer100k <= MB_PER_100K_TARGET,
    },
  ];
}
