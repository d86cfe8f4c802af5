import { commandDelta, settledCommandCounts } from './commandStats';
import type { TargetCheck } from './report';
import { median } from './stats';
import { type Contender, contenders } from './storeContenders';
import { fixed, markdownTable } from './table';

/** One contender at one concurrency, over all rounds. */
export interface StoreSummary {
  name: string;
  kind: Contender['kind'];
  does: string;
  concurrency: number;
  opsPerSec: number;
  redisCallsPerCycle: number;
  /** Microseconds Redis spent per cycle, from commandstats. */
  redisUsPerCycle: number;
  /** Median over rounds of ours divided by this contender, measured one after the other. */
  oursOverThis: number;
  problems: string[];
}

/** Runs `concurrency` loops of cycles on fresh keys for a fixed time. */
async function drive(
  cycle: (key: string) => Promise<void>,
  prefix: string,
  concurrency: number,
  seconds: number,
): Promise<{ opsPerSec: number; cycles: number; errors: number; firstError?: unknown }> {
  let next = 0;
  let cycles = 0;
  let errors = 0;
  let firstError: unknown;
  const startedAt = performance.now();
  const deadline = startedAt + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        try {
          await cycle(`${prefix}-${next++}`);
          cycles++;
        } catch (error) {
          errors++;
          firstError ??= error;
        }
      }
    }),
  );
  return { opsPerSec: cycles / ((performance.now() - startedAt) / 1000), cycles, errors, firstError };
}

/**
 * Times one claim-plus-complete cycle of each store on the same Redis, at the same concurrency, with
 * the same stored payload. Rounds interleave the stores so that a slow spell hits all of them.
 */
export async function compareStores(
  redisUrl: string,
  options: { rounds: number; concurrencies: number[]; warmupSec: number; durationSec: number; references: boolean },
): Promise<StoreSummary[]> {
  const CONTENDERS = contenders(options.references);
  const runs = new Map<
    string,
    Array<{ opsPerSec: number; calls: number; usec: number; cycles: number; problems: string[] }>
  >();
  for (let round = 0; round < options.rounds; round++) {
    for (const concurrency of options.concurrencies) {
      for (const contender of CONTENDERS) {
        const run = await runOne(contender, redisUrl, concurrency, options, round);
        const id = `${contender.name}@${concurrency}`;
        runs.set(id, [...(runs.get(id) ?? []), run]);
        console.log(
          `stores round ${round + 1}/${options.rounds} ${contender.name} ×${concurrency}: ${run.opsPerSec.toFixed(0)} cycles/s` +
            (run.problems.length ? ` PROBLEMS: ${run.problems.join('; ')}` : ''),
        );
      }
    }
  }
  const summaries: StoreSummary[] = [];
  for (const concurrency of options.concurrencies) {
    const oursRuns = runs.get(`${CONTENDERS[0]!.name}@${concurrency}`) ?? [];
    for (const contender of CONTENDERS) {
      const these = runs.get(`${contender.name}@${concurrency}`) ?? [];
      const cycles = these.reduce((sum, run) => sum + run.cycles, 0);
      summaries.push({
        name: contender.name,
        kind: contender.kind,
        does: contender.does,
        concurrency,
        opsPerSec: median(these.map((run) => run.opsPerSec)),
        redisCallsPerCycle: these.reduce((sum, run) => sum + run.calls, 0) / cycles,
        redisUsPerCycle: these.reduce((sum, run) => sum + run.usec, 0) / cycles,
        oursOverThis: median(these.map((run, i) => (oursRuns[i]?.opsPerSec ?? Number.NaN) / run.opsPerSec)),
        problems: these.flatMap((run) => run.problems),
      });
    }
  }
  return summaries;
}

async function runOne(
  contender: Contender,
  redisUrl: string,
  concurrency: number,
  options: { warmupSec: number; durationSec: number },
  round: number,
) {
  const problems: string[] = [];
  const open = await contender.open(redisUrl);
  const prefix = `cmp-${round}-${concurrency}-${Date.now().toString(36)}`;
  try {
    const warm = await drive(open.cycle, `${prefix}-warm`, concurrency, options.warmupSec);
    const before = await settledCommandCounts([redisUrl]);
    const measured = await drive(open.cycle, prefix, concurrency, options.durationSec);
    const after = await settledCommandCounts([redisUrl]);
    for (const run of [warm, measured]) {
      if (run.errors > 0) problems.push(`${run.errors} cycles failed, first: ${String(run.firstError)}`);
    }
    if (measured.cycles === 0) problems.push('no cycle completed');
    const delta = commandDelta(before, after);
    return {
      opsPerSec: measured.opsPerSec,
      calls: delta.topLevel,
      usec: delta.topLevelUsec,
      cycles: measured.cycles,
      problems,
    };
  } finally {
    await open.close();
  }
}

/** The store comparison as a table. */
export function storeTable(summaries: StoreSummary[]): string {
  return markdownTable(
    ['store', 'concurrency', 'cycles/s', 'redis cmds/cycle', 'redis µs/cycle', 'ours ÷ this', 'what one cycle sends'],
    summaries.map((summary) => [
      summary.name,
      String(summary.concurrency),
      fixed(summary.opsPerSec, 0),
      fixed(summary.redisCallsPerCycle, 2),
      fixed(summary.redisUsPerCycle, 1),
      fixed(summary.oursOverThis, 2),
      summary.does,
    ]),
    ['l', 'r', 'r', 'r', 'r', 'r', 'l'],
  );
}

/**
 * Ours against the fastest peer, at concurrency 64 and at 1: the target is 1.2 times as fast at each.
 * A concurrency that did not run (`--quick` runs 64 only) shows as not measured.
 */
export function storeTargets(summaries: StoreSummary[]): TargetCheck[] {
  if (summaries.length === 0) return [];
  return [64, 1].map((concurrency) => {
    const target = `our store cycle ≥ 1.2 × the fastest peer (concurrency ${concurrency})`;
    const peers = summaries.filter((s) => s.concurrency === concurrency && s.kind === 'peer');
    const ours = summaries.find((s) => s.concurrency === concurrency && s.kind === 'ours');
    if (peers.length === 0 || !ours) return { target, measured: 'not run (a full run measures it)', met: undefined };
    const fastest = peers.reduce((best, peer) => (peer.opsPerSec > best.opsPerSec ? peer : best));
    return {
      target,
      measured: `${fixed(fastest.oursOverThis, 2)} × ${fastest.name} (${fixed(ours.opsPerSec, 0)} vs ${fixed(fastest.opsPerSec, 0)} cycles/s)`,
      met: Number.isFinite(fastest.oursOverThis) ? fastest.oursOverThis >= 1.2 : undefined,
    };
  });
}
