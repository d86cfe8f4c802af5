import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { combineRuns, type RunsSummary, summarise } from './aggregate';
import {
  clientTables,
  type DeriveResult,
  type LinkOverhead,
  measureDerive,
  measureLinkOverhead,
  recordedFetch,
} from './clientCosts';
import { type AuditResult, auditCommands, auditTable } from './commandAudit';
import { type CompressionResult, compressionTable, measureCompression } from './compressionBench';
import { memoryNotSlowerThanRedis } from './gates';
import { headlineTable, readHeadline } from './headline';
import { type MemoryHeapResult, measureMemoryHeap, memoryHeapTable, memoryHeapTargets } from './memoryHeap';
import { readOptions } from './options';
import { auditPostgres, type PostgresAuditResult, postgresAuditTable } from './postgresAudit';
import { type BenchPostgres, setUpPostgres } from './postgresSetup';
import { summariseProfile } from './profileSummary';
import { setUpRedis } from './redisSetup';
import { postgresTable, postgresTargets, serverTable, targetTable } from './report';
import { CONNECTIONS, SCENARIOS } from './scenarios';
import { measureScriptFloor, type ScriptFloor } from './scriptFloor';
import { runScenario, type ScenarioResult } from './serverBench';
import { startFleet } from './serverFleet';
import { compareStores, type StoreSummary, storeTable, storeTargets } from './storeBench';
import { commandTargets, costTargets, ioTargets, latencyTargets } from './targets';

const options = readOptions(process.argv.slice(2));
const startedAt = performance.now();
const problems: string[] = [];
const redis = await setUpRedis({ cluster: true });
const postgres: BenchPostgres | undefined = await setUpPostgres();
const machine = `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'unknown CPU'}, Node ${process.version}, Redis ${redis.version} (${redis.source})${postgres ? `, PostgreSQL ${postgres.version} (private, pg_stat_statements)` : ''}`;
console.log(`trpc-idempotency bench (${options.quick ? 'quick' : 'full'}) on ${machine}`);
const redisUrls = [redis.url, ...(redis.clusterNodes ?? []).map((node) => `redis://${node.host}:${node.port}`)];

// Every round of every full run: runs[run][round] holds that round's results.
const runs: ScenarioResult[][][] = [];
const summariesSoFar = (): RunsSummary[] => combineRuns(runs.map(summarise));
const gateRechecks: Array<{ memoryCpuUs: number; redisCpuUs: number }> = [];
let stores: StoreSummary[] = [];
let derive: DeriveResult[] = [];
const links: LinkOverhead[] = [];
let audit: AuditResult[] = [];
let postgresAudit: PostgresAuditResult[] = [];
let compression: CompressionResult[] = [];
let floor: ScriptFloor | undefined;
let heap: MemoryHeapResult | undefined;
let profiledRequests: number | undefined;
const cpuProfileDir = options.profile ? mkdtempSync(join(tmpdir(), 'trpc-idem-bench-prof-')) : undefined;
const profiledId = options.only[0] ?? 'redis-fresh';
try {
  // A profile covers one process's whole life, so --profile runs every scenario in the shared process.
  const fleet = await startFleet(
    { redisUrl: redis.url, clusterNodes: redis.clusterNodes, postgresUrl: postgres?.url, cpuProfileDir },
    options.profile ? [] : SCENARIOS,
  );
  const server = fleet.shared;
  try {
    for (let run = 1; run <= options.runs; run++) {
      // Each full run starts cold, in fresh processes, as a stranger's run would.
      if (run > 1) await fleet.renewOwn();
      const rounds: ScenarioResult[][] = [];
      runs.push(rounds);
      for (let round = 1; round <= options.rounds; round++) {
        const results: ScenarioResult[] = [];
        rounds.push(results);
        for (const connections of CONNECTIONS) {
          for (const scenario of SCENARIOS) {
            if (options.only.length > 0 && !options.only.includes(scenario.id)) continue;
            if (options.quick && (scenario.experiment || scenario.postgres) && connections === 1) continue;
            if (options.profile && (scenario.id !== profiledId || connections !== options.profileConnections)) continue;
            if (scenario.needsCluster && !redis.clusterNodes) {
              console.log(`skipped ${scenario.id}: no redis-server binary to build a cluster`);
              continue;
            }
            if (scenario.postgres && !postgres) continue;
            const result = await runScenario(
              fleet.serverFor(scenario),
              redisUrls,
              scenario,
              connections,
              options,
              postgres,
            );
            results.push(result);
            console.log(
              `run ${run}/${options.runs} round ${round}/${options.rounds} ${scenario.id} @${connections}: ${result.rps.toFixed(0)} req/s, ` +
                `${result.serverCpuUsPerRequest.toFixed(0)} µs CPU/req, p50 ${result.p50Ms.toFixed(2)} ms, ` +
                `${result.redisCallsPerRequest.toFixed(2)} redis calls/req` +
                `${scenario.postgres ? `, ${result.pgStatementsPerRequest.toFixed(2)} pg statements/req, ${result.pgRoundTripsPerRequest.toFixed(2)} pg round trips/req` : ''}${result.problems.length ? ` PROBLEMS: ${result.problems.join('; ')}` : ''}`,
            );
            for (const problem of result.problems) problems.push(`${scenario.id} @${connections}: ${problem}`);
          }
        }
      }
    }
    // One noisy window must not fail CI: a MemoryStore measure outside the band is rechecked, in pairs.
    const memoryFresh = SCENARIOS.find((scenario) => scenario.id === 'memory-fresh')!;
    const redisFresh = SCENARIOS.find((scenario) => scenario.id === 'redis-fresh')!;
    while (memoryNotSlowerThanRedis(summariesSoFar(), gateRechecks)?.problem && gateRechecks.length < 2) {
      const memoryRun = await runScenario(fleet.serverFor(memoryFresh), redisUrls, memoryFresh, 64, options, postgres);
      const redisRun = await runScenario(fleet.serverFor(redisFresh), redisUrls, redisFresh, 64, options, postgres);
      gateRechecks.push({ memoryCpuUs: memoryRun.serverCpuUsPerRequest, redisCpuUs: redisRun.serverCpuUsPerRequest });
      for (const run of [memoryRun, redisRun]) {
        for (const problem of run.problems) problems.push(`${run.scenario.id} @64 (gate recheck): ${problem}`);
      }
      console.log(
        `gate recheck: MemoryStore fresh ${memoryRun.serverCpuUsPerRequest.toFixed(0)} µs/req, RedisStore fresh ${redisRun.serverCpuUsPerRequest.toFixed(0)} µs/req`,
      );
    }
    if (!options.profile) {
      audit = await auditCommands(server, redis.url);
      for (const result of audit) {
        if (Math.abs(result.topLevelPerRequest - result.expected) > 1e-9) {
          problems.push(`MONITOR audit, ${result.kind}: ${result.topLevelPerRequest} top-level commands per request`);
        }
      }
      if (postgres) postgresAudit = await auditPostgres(server, postgres);
    }
    // The floor of the added p50: measured from this process, as autocannon measures the requests.
    if (
      runs.some((rounds) =>
        rounds.some((round) =>
          round.some((result) => result.scenario.id === 'redis-fresh' && result.connections === 1),
        ),
      )
    ) {
      floor = await measureScriptFloor(redis.url, options.quick ? 1000 : 5000);
    }
    if (!options.skipClient) {
      derive = await measureDerive(options.quick ? 0.1 : 2);
      links.push(await measureLinkOverhead(server.url, options.quick ? 2 : 10, options.quick ? 100 : 300));
      const inMemory = await recordedFetch(server.url);
      links.push(await measureLinkOverhead(server.url, options.quick ? 2 : 10, options.quick ? 200 : 1000, inMemory));
    }
    // --cpu-prof covers the server process's whole life, so the requests of its whole life divide it.
    if (cpuProfileDir) profiledRequests = (await server.stats()).requests;
  } finally {
    await fleet.stop();
  }
  if (!options.skipStores) {
    stores = await compareStores(redis.url, {
      rounds: options.rounds,
      concurrencies: options.quick ? [64] : [1, 64],
      warmupSec: options.quick ? 0.2 : 0.5,
      durationSec: options.quick ? 0.5 : 2,
      references: !options.quick,
    });
    for (const store of stores) for (const problem of store.problems) problems.push(`${store.name}: ${problem}`);
  }
  if (!options.skipStores) compression = await measureCompression(redis.url, options.quick);
  // Quick fills a fifth as many records; the figure is scaled to 100k either way.
  if (!options.profile) heap = await measureMemoryHeap(options.quick ? 20_000 : 100_000);
} finally {
  await redis.stop();
  await postgres?.stop();
}

if (cpuProfileDir) {
  console.log(
    `\n## CPU profile of the server process (${profiledId}, ${options.profileConnections} connection${options.profileConnections === 1 ? '' : 's'})\n`,
  );
  console.log(summariseProfile(cpuProfileDir, profiledRequests));
  console.log(`\nRaw profile: ${cpuProfileDir} (open it in Chrome DevTools > Performance).`);
}

const summaries = summariesSoFar();
const headline = readHeadline(summaries, options.rounds);
if (headline) {
  console.log(
    `\n## Headline (${headline.connections} connections; each variant in its own server process; median of ${headline.runs} full run(s) of ${headline.roundsPerRun} interleaved round(s), [min–max] over the runs)\n`,
  );
  console.log(headlineTable(headline));
}
console.log(
  `\n## Server scenarios (${options.runs} run(s) × ${options.rounds} round(s); each measure: warm-up ${options.warmupSec} s, measured ${options.durationSec} s; median of the runs' medians)\n`,
);
console.log(serverTable(summaries));
// In the order of the issue's table.
const targets = [
  ...costTargets(summaries),
  ...storeTargets(stores),
  ...ioTargets(summaries),
  ...latencyTargets(summaries, floor),
  ...(heap ? memoryHeapTargets(heap) : []),
  ...commandTargets(summaries),
  ...postgresTargets(summaries),
];
const gate = memoryNotSlowerThanRedis(summaries, gateRechecks);
if (gate?.problem) problems.push(gate.problem);
if (summaries.some((summary) => summary.scenario.postgres)) {
  console.log(
    '\n## PostgresStore scenarios (same run, same rounds; "plain write" is the same handler writing its row without idempotency)\n',
  );
  console.log(postgresTable(summaries));
}
if (postgresAudit.length > 0) {
  console.log(
    '\n## PostgreSQL statements and round trips per request, exact (pg_stat_statements, 10 sequential requests each)\n',
  );
  console.log(postgresAuditTable(postgresAudit));
}
if (audit.length > 0) {
  console.log('\n## Redis commands per request, exact, from MONITOR (10 sequential requests each)\n');
  console.log(auditTable(audit));
}
if (stores.length > 0) {
  console.log('\n## Store cycle: claim + complete on a fresh key, same Redis, same payload\n');
  console.log(storeTable(stores));
}
if (heap) {
  console.log('\n## MemoryStore heap: completed records, claimed and completed as the middleware does\n');
  console.log(memoryHeapTable(heap));
}
if (compression.length > 0) {
  console.log('\n## Stored outcome compression (compressOutcomes), side by side with plain storage\n');
  console.log(compressionTable(compression));
}
if (derive.length > 0) {
  console.log("\n## Client costs: key: 'derive', and the link against a plain httpLink\n");
  console.log(clientTables(derive, links));
}
console.log('\n## Targets\n');
console.log(targetTable(targets));
if (gate) console.log(`\n${gate.line}`);
console.log(`\nMachine: ${machine}. Total time ${((performance.now() - startedAt) / 1000).toFixed(1)} s.`);
if (options.json) {
  mkdirSync(dirname(options.json), { recursive: true });
  writeFileSync(
    options.json,
    `${JSON.stringify(
      {
        date: new Date().toISOString(),
        commit: gitCommit(),
        command: `npm run bench --${process.argv
          .slice(2)
          .map((arg) => ` ${arg}`)
          .join('')}`,
        machine,
        totalSec: Math.round((performance.now() - startedAt) / 1000),
        options,
        headline,
        // Every scenario: each figure the median of the runs, with spread.min/max/runs.
        summaries: summaries.map(({ scenario, ...figures }) => ({
          id: scenario.id,
          label: scenario.label,
          ...figures,
        })),
        // Each full run's own summary (medians of its rounds), and every measure of every round.
        runSummaries: runs.map((rounds) =>
          summarise(rounds).map(({ scenario, ...figures }) => ({ id: scenario.id, ...figures })),
        ),
        measures: runs.map((rounds) =>
          rounds.map((round) =>
            round.map((result) => ({
              id: result.scenario.id,
              connections: result.connections,
              rps: result.rps,
              p50Ms: result.p50Ms,
              p99Ms: result.p99Ms,
              serverCpuUsPerRequest: result.serverCpuUsPerRequest,
              redisCallsPerRequest: result.redisCallsPerRequest,
              served: result.served,
            })),
          ),
        ),
        gateRechecks,
        audit,
        postgresAudit,
        stores,
        compression,
        floor,
        heap,
        derive,
        links,
        targets,
        problems,
      },
      null,
      2,
    )}\n`,
  );
  console.log(`Wrote ${options.json}.`);
}

if (problems.length > 0) {
  console.error(`\nbench: ${problems.length} scenario(s) misbehaved:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  process.exit(1);
}

/** The commit the run measured, and whether the bench or the packages had uncommitted changes. */
function gitCommit(): { sha: string; dirty: boolean } | undefined {
  try {
    const git = (...args: string[]) => execFileSync('git', args, { encoding: 'utf8' }).trim();
    return {
      sha: git('rev-parse', 'HEAD'),
      dirty: git('status', '--porcelain', '--', '../bench', '../packages') !== '',
    };
  } catch {
    return undefined;
  }
}
