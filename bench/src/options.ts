import { parseArgs } from 'node:util';
import { CONNECTIONS } from './scenarios';

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
  /** How many times every scenario runs; the scenarios of one round run one after the other. */
  rounds: number;
  warmupSec: number;
  durationSec: number;
}

const USAGE = `npm run bench -- [--quick] [--only redis-fresh,plain] [--rounds n] [--profile [--connections 1]] [--skip-stores] [--skip-client] [--json file]
  --quick        smoke check: short runs, < 90 s; exits non-zero when a scenario misbehaves, or when
                 MemoryStore costs more server CPU per request than RedisStore (beyond a noise band)
  --only ids     server scenarios to run: plain, memory-fresh, redis-fresh, redis-fresh-uncoalesced,
                 redis-fresh-node-redis, redis-replay, cluster-fresh, redis-conflict, plain-io,
                 memory-fresh-io, redis-fresh-io, pg-plain-write, pg-fresh, pg-replay, pg-tx-fresh
                 (the pg-* ones need PostgreSQL installed: a private cluster)
  --rounds n     how many interleaved rounds (default 5; 1 with --quick or --profile): more rounds, a steadier
                 median on a noisy machine
  --profile      CPU-profile the server during one scenario (the first --only id, default
                 redis-fresh) and summarise the profile
  --connections n
                 with --profile: profile at n connections (${CONNECTIONS.join(' or ')}; default 64)
  REDIS_URL      use this Redis instead of starting a private redis-server (the cluster is always private)`;

/** Reads the command line. */
export function readOptions(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      profile: { type: 'boolean', default: false },
      'skip-stores': { type: 'boolean', default: false },
      'skip-client': { type: 'boolean', default: false },
      json: { type: 'string' },
      rounds: { type: 'string' },
      connections: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const quick = values.quick === true;
  const rounds = values.rounds === undefined ? undefined : Number(values.rounds);
  if (rounds !== undefined && !(Number.isInteger(rounds) && rounds > 0)) {
    console.error(`--rounds must be a positive whole number\n\n${USAGE}`);
    process.exit(2);
  }
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
    rounds: rounds ?? (quick || values.profile ? 1 : 5),
    warmupSec: quick ? 0.5 : 1,
    durationSec: quick ? 1 : values.profile ? 10 : 3,
  };
}
