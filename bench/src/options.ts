import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CONNECTIONS } from './scenarios';

/** Where `--json` without a file writes: bench/results/latest.json. */
export const LATEST_JSON = join(dirname(fileURLToPath(import.meta.url)), '..', 'results', 'latest.json');

/** What one `npm run bench` invocation does. */
export interface BenchOptions {
  quick: boolean;
  /** Run only these server scenario ids (all when empty). */
  only: string[];
  /** Profile the server process during one scenario (the first of `only`, else redis-fresh), and nothing else. */
  profile: boolean;
  /** The connections of the profiled scenario: one of the scenarios' own, 64 unless `--connections` says. */
  profileConnections: (typeof CONNECTIONS)[number];
  skipStores: boolean;
  skipClient: boolean;
  /** Write every figure as JSON here. */
  json?: string;
  /**
   * How many full runs: each starts fresh server processes for the own-process variants and runs every
   * round; a figure is the median of the runs' own medians, shown with its min–max.
   */
  runs: number;
  /** How many times every scenario runs within one full run; the scenarios of one round run one after the other. */
  rounds: number;
  warmupSec: number;
  durationSec: number;
}

const USAGE = `npm run bench -- [--quick] [--only redis-fresh,plain] [--runs n] [--rounds n] [--profile [--connections 1]] [--skip-stores] [--skip-client] [--json [file]]
  --quick        smoke check: short runs, < 90 s; exits non-zero when a scenario misbehaves, or when
                 MemoryStore costs more server CPU per request than RedisStore (beyond a noise band)
  --only ids     server scenarios to run: plain, plain-hop, memory-fresh, redis-fresh, redis-fresh-uncoalesced,
                 redis-fresh-node-redis, redis-replay, cluster-fresh, redis-conflict, plain-io,
                 memory-fresh-io, redis-fresh-io, pg-plain-write, pg-fresh, pg-replay, pg-tx-fresh
                 (the pg-* ones need PostgreSQL installed: a private cluster)
  --runs n       how many full runs (default 3; 1 with --quick or --profile); each starts fresh server
                 processes; every figure is the median of the runs, with its min–max
  --rounds n     how many interleaved rounds per run (default 3; 1 with --quick or --profile)
  --json [file]  write every figure, ratio and spread as JSON (default file: bench/results/latest.json)
  --profile      CPU-profile the server during one scenario (the first --only id, default
                 redis-fresh) and summarise the profile; every scenario then runs in the shared process
  --connections n
                 with --profile: profile at n connections (${CONNECTIONS.join(' or ')}; default 64)
  REDIS_URL      use this Redis instead of starting a private redis-server (the cluster is always private)`;

/** Reads the command line. */
export function readOptions(argv: string[]): BenchOptions {
  // `--json` takes an optional file: without one (last, or before another flag), it writes LATEST_JSON.
  const args = argv.flatMap((arg, i) =>
    arg === '--json' && (i === argv.length - 1 || argv[i + 1]!.startsWith('--')) ? [arg, LATEST_JSON] : [arg],
  );
  const { values } = parseArgs({
    args,
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      profile: { type: 'boolean', default: false },
      'skip-stores': { type: 'boolean', default: false },
      'skip-client': { type: 'boolean', default: false },
      json: { type: 'string' },
      rounds: { type: 'string' },
      runs: { type: 'string' },
      connections: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const quick = values.quick === true;
  const count = (flag: 'rounds' | 'runs') => {
    const value = values[flag] === undefined ? undefined : Number(values[flag]);
    if (value !== undefined && !(Number.isInteger(value) && value > 0)) {
      console.error(`--${flag} must be a positive whole number\n\n${USAGE}`);
      process.exit(2);
    }
    return value;
  };
  const rounds = count('rounds');
  const runs = count('runs');
  const connections = CONNECTIONS.find((count) => String(count) === (values.connections ?? '64'));
  if (connections === undefined) {
    console.error(
      `--connections must be one of ${CONNECTIONS.join(', ')}, the counts the scenarios run at\n\n${USAGE}`,
    );
    process.exit(2);
  }
  if (values.connections !== undefined && values.profile !== true) {
    console.error(`--connections only applies to --profile\n\n${USAGE}`);
    process.exit(2);
  }
  return {
    quick,
    only: values.only ? values.only.split(',').map((id) => id.trim()) : [],
    profile: values.profile === true,
    profileConnections: connections,
    skipStores: values['skip-stores'] === true || values.profile === true,
    skipClient: values['skip-client'] === true || values.profile === true,
    json: values.json,
    runs: runs ?? (quick || values.profile ? 1 : 3),
    rounds: rounds ?? (quick || values.profile ? 1 : 3),
    warmupSec: quick ? 0.5 : 1,
    durationSec: quick ? 1 : values.profile ? 10 : 2,
  };
}
