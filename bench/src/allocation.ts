/*
 * `npm run bench:alloc`: what a request allocates on the server, plain tRPC against each store's fresh
 * request, by area and by function, from V8's sampling heap profiler in the server process. Allocation is
 * what feeds the garbage collector, the largest single item of the fresh request's CPU profile; this is
 * how the allocation figures of BENCHMARKS.md were taken. Each scenario also gets a window without the sampler
 * for its server CPU and garbage-collection time per request. About a minute.
 */
import type { AllocationSample } from './allocationSampler';
import { runLoad } from './load';
import { area, shortUrl } from './profileSummary';
import { setUpRedis } from './redisSetup';
import { SCENARIOS, type Scenario } from './scenarios';
import { startServer } from './serverHandle';
import { markdownTable } from './table';

const MEASURED_SEC = 5;
const CONNECTIONS = 64;
// plain-io holds each request across 1 ms of I/O with no SDK at all: what that alone does to the collector.
const IDS: Array<Scenario['id']> = ['plain', 'plain-io', 'memory-fresh', 'redis-fresh'];

interface Measured {
  scenario: Scenario;
  requests: number;
  sample: AllocationSample;
  /** From a window of its own, without the sampler: server CPU and collection time per request, in µs. */
  cpuUs: number;
  gcMinorUs: number;
  gcOtherUs: number;
}

const redis = await setUpRedis({ cluster: false });
const measured: Measured[] = [];
try {
  const server = await startServer({ redisUrl: redis.url });
  try {
    for (const id of IDS) {
      const scenario = SCENARIOS.find((candidate) => candidate.id === id)!;
      const load = {
        url: server.url,
        path: scenario.path,
        connections: CONNECTIONS,
        key: scenario.keys === 'fresh' ? 'fresh' : 'none',
      } as const;
      await runLoad({ ...load, durationSec: 2 }); // warm-up: the JIT, the pools
      const unsampled = await server.stats();
      await runLoad({ ...load, durationSec: MEASURED_SEC });
      await new Promise((resolve) => setTimeout(resolve, 200)); // the last collections' entries arrive late
      const done = await server.stats();
      const served = done.requests - unsampled.requests;
      const cost = {
        cpuUs: (done.cpuUs - unsampled.cpuUs) / served,
        gcMinorUs: (done.gcMinorUs - unsampled.gcMinorUs) / served,
        gcOtherUs: (done.gcOtherUs - unsampled.gcOtherUs) / served,
      };
      const before = await server.stats();
      await server.startAllocationSampling();
      await runLoad({ ...load, durationSec: MEASURED_SEC });
      const sample = await server.stopAllocationSampling();
      const requests = (await server.stats()).requests - before.requests;
      measured.push({ scenario, requests, sample, ...cost });
      console.log(
        `${id}: ${requests} requests, ${(sample.totalBytes / requests / 1024).toFixed(1)} KB allocated per request`,
      );
    }
  } finally {
    await server.stop();
  }
} finally {
  await redis.stop();
}

const kb = (bytes: number) => (bytes / 1024).toFixed(1);
const perRequest = (m: Measured, pick: (frame: AllocationSample['byFrame'][number]) => string) => {
  const sums = new Map<string, number>();
  for (const frame of m.sample.byFrame) sums.set(pick(frame), (sums.get(pick(frame)) ?? 0) + frame.bytes / m.requests);
  return sums;
};
const plain = measured[0]!;
const plainBytes = plain.sample.totalBytes / plain.requests;

console.log(
  `\n## Allocated per request on the server (${CONNECTIONS} connections, ${MEASURED_SEC} s sampled; CPU and GC from another ${MEASURED_SEC} s without the sampler)\n`,
);
console.log(
  markdownTable(
    ['scenario', 'KB/req', 'KB/req over plain', 'server CPU µs/req', 'scavenge µs/req', 'other GC µs/req'],
    measured.map((m) => {
      const bytes = m.sample.totalBytes / m.requests;
      return [
        m.scenario.label,
        kb(bytes),
        m === plain ? '' : `+${kb(bytes - plainBytes)}`,
        m.cpuUs.toFixed(0),
        m.gcMinorUs.toFixed(1),
        m.gcOtherUs.toFixed(1),
      ];
    }),
    ['l', 'r', 'r', 'r', 'r', 'r'],
  ),
);

const areas = measured.map((m) => perRequest(m, (frame) => area(frame.url, frame.functionName)));
const areaNames = [...new Set(areas.flatMap((sums) => [...sums.keys()]))].sort(
  (a, b) => (areas.at(-1)!.get(b) ?? 0) - (areas.at(-1)!.get(a) ?? 0),
);
console.log('\n## By area, KB per request\n');
console.log(
  markdownTable(
    ['area', ...measured.map((m) => m.scenario.label)],
    areaNames.map((name) => [name, ...areas.map((sums) => kb(sums.get(name) ?? 0))]),
    ['l', ...measured.map(() => 'r' as const)],
  ),
);

const functions = measured.map((m) =>
  perRequest(m, (frame) => `${frame.functionName || '(anonymous)'} ${shortUrl(frame.url)}`.trim()),
);
const last = functions.at(-1)!;
const added = [...last.keys()]
  .map((name) => ({ name, added: (last.get(name) ?? 0) - (functions[0]!.get(name) ?? 0) }))
  .sort((a, b) => b.added - a.added)
  .slice(0, 25);
console.log(
  `\n## Functions that allocate the most more than plain in "${measured.at(-1)!.scenario.label}", bytes per request\n\n` +
    'A function the JIT inlined counts in its caller, and inlining differs between scenarios, so a row can move ' +
    'between two functions of one library; the area table above does not.\n',
);
console.log(
  markdownTable(
    ['function', 'plain', measured.at(-1)!.scenario.label, 'more'],
    added.map(({ name, added: more }) => [
      name,
      (functions[0]!.get(name) ?? 0).toFixed(0),
      (last.get(name) ?? 0).toFixed(0),
      more.toFixed(0),
    ]),
    ['l', 'r', 'r', 'r'],
  ),
);
