/*
 * `npm run bench:sql`: MySqlStore on MariaDB and SqliteStore, fresh, replay and transactional fresh, each
 * against the same handler writing its order row without idempotency, in the same run. Every variant has a
 * server process of its own (sqlStoresServer.ts). First an audit counts, exactly, the statements and round
 * trips of sequential requests and fails the run when they differ from what the stores are designed to send
 * (sqlStoresVariants.ts); then interleaved rounds of autocannon load give req/s, p50 and the server's CPU
 * per request, with each ratio taken against the plain write of the same round.
 */
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { type AuditResult, auditDatabase } from './sqlStoresAudit';
import { type SqlServerHandle, startSqlServer } from './sqlStoresHandle';
import { type LoadRun, runVariant, type Timing } from './sqlStoresLoad';
import { auditTable, loadTable, summarize } from './sqlStoresReport';
import { type BenchMariaDb, type BenchSqlite, setUpMariaDb, setUpSqlite } from './sqlStoresSetup';
import { type SqlDatabase, VARIANTS, type VariantId } from './sqlStoresVariants';

const USAGE = `npm run bench:sql -- [--quick] [--rounds n] [--only mariadb|sqlite]
  --quick        smoke run (~30 s on a quiet machine): one short round at 64 connections; exits non-zero
                 when a count or a request is wrong, as a full run does
  --rounds n     interleaved rounds (default 4)
  --only db      one database: mariadb or sqlite`;

interface SqlBenchOptions {
  databases: SqlDatabase[];
  rounds: number;
  connections: number[];
  timing: Timing;
}

function readOptions(argv: string[]): SqlBenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      rounds: { type: 'string' },
      only: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const quick = values.quick === true;
  const rounds = values.rounds === undefined ? (quick ? 1 : 4) : Number(values.rounds);
  if (!(Number.isInteger(rounds) && rounds > 0)) throw new Error(`--rounds must be a positive integer\n${USAGE}`);
  const databases: SqlDatabase[] = values.only === undefined ? ['mariadb', 'sqlite'] : [values.only as SqlDatabase];
  if (!databases.every((db) => db === 'mariadb' || db === 'sqlite')) throw new Error(`unknown --only\n${USAGE}`);
  return {
    databases,
    rounds,
    connections: quick ? [64] : [1, 64],
    // Many short rounds rather than a few long ones: on a shared machine the median of more rounds holds still.
    timing: quick ? { warmupSec: 0.5, durationSec: 1 } : { warmupSec: 0.5, durationSec: 1.5 },
  };
}

/** One database's servers, one per variant, and what the database itself offers the runner. */
interface DatabaseUnderTest {
  database: SqlDatabase;
  servers: Map<VariantId, SqlServerHandle>;
  mariadb?: BenchMariaDb;
  sqlite?: BenchSqlite;
}

async function startDatabase(database: SqlDatabase): Promise<DatabaseUnderTest | undefined> {
  const mariadb = database === 'mariadb' ? await setUpMariaDb() : undefined;
  if (database === 'mariadb' && !mariadb) return undefined;
  const sqlite = database === 'sqlite' ? setUpSqlite() : undefined;
  const handles = await Promise.all(
    VARIANTS.map((variant) =>
      startSqlServer({ database, variant: variant.id, mysqlUrl: mariadb?.url, sqliteFile: sqlite?.file }),
    ),
  );
  const servers = new Map(handles.map((handle) => [handle.config.variant, handle]));
  return { database, servers, mariadb, sqlite };
}

async function stopDatabase(under: DatabaseUnderTest): Promise<void> {
  await Promise.all([...under.servers.values()].map((server) => server.stop()));
  await under.mariadb?.stop();
  under.sqlite?.remove();
}

const TITLES: Record<SqlDatabase, string> = { mariadb: 'MySqlStore on MariaDB', sqlite: 'SqliteStore' };

async function main(): Promise<void> {
  const options = readOptions(process.argv.slice(2));
  const started = Date.now();
  const loadBefore = loadavg()[0]!;
  const unders: DatabaseUnderTest[] = [];
  const audits: AuditResult[][] = [];
  const runs: LoadRun[] = [];
  try {
    for (const database of options.databases) {
      const under = await startDatabase(database);
      if (under) unders.push(under);
    }
    for (const under of unders) {
      audits.push(await auditDatabase(under.database, under.servers, under.mariadb));
    }
    for (let round = 1; round <= options.rounds; round++) {
      for (const under of unders) {
        for (const connections of options.connections) {
          // Each round starts the variants one further along, so that none always runs first.
          const order = VARIANTS.map((_, i) => VARIANTS[(i + round - 1) % VARIANTS.length]!);
          for (const variant of order) {
            const server = under.servers.get(variant.id)!;
            const run = await runVariant(server, variant, connections, round, options.timing, under.mariadb);
            runs.push(run);
            console.log(
              `round ${round} ${under.database} ${variant.id} c=${connections}: ${run.rps.toFixed(0)} req/s, ` +
                `p50 ${run.p50Ms.toFixed(2)} ms, ${run.serverCpuUsPerRequest.toFixed(0)} µs CPU/req` +
                (run.problems.length > 0 ? ` FAILED: ${run.problems.join('; ')}` : ''),
            );
          }
        }
      }
    }
  } finally {
    await Promise.all(unders.map(stopDatabase));
  }

  const cpu = cpus();
  console.log(`\n## ${unders.map((u) => TITLES[u.database]).join(' and ')}\n`);
  console.log(
    `${new Date(started).toISOString()}, ${((Date.now() - started) / 1000).toFixed(0)} s; ${cpu.length} × ${cpu[0]?.model ?? 'CPU'}; ` +
      `Node ${process.version}; ${unders
        .map((u) => (u.mariadb ? `MariaDB ${u.mariadb.version}` : `SQLite ${u.sqlite?.version}`))
        .join(
          '; ',
        )}; ${options.rounds} rounds of ${options.timing.warmupSec} s warm-up + ${options.timing.durationSec} s; ` +
      `load average ${loadBefore.toFixed(1)} at the start, ${loadavg()[0]!.toFixed(1)} at the end.`,
  );
  let failed = false;
  for (const [i, under] of unders.entries()) {
    const audit = audits[i]!;
    const summaries = summarize(runs.filter((run) => run.database === under.database));
    console.log(
      `\n### ${TITLES[under.database]}: statements and round trips per request, exact (10 sequential requests each)\n`,
    );
    console.log(auditTable(audit));
    console.log(`\n### ${TITLES[under.database]}: under load (medians of ${options.rounds} rounds)\n`);
    console.log(loadTable(summaries));
    for (const problem of [
      ...audit.flatMap((r) => r.problems.map((p) => `${under.database} ${r.variant.id} audit: ${p}`)),
      ...summaries.flatMap((s) => s.problems.map((p) => `${under.database} ${s.label} c=${s.connections}: ${p}`)),
    ]) {
      failed = true;
      console.error(`FAILED ${problem}`);
    }
  }
  if (failed) process.exitCode = 1;
}

await main();
