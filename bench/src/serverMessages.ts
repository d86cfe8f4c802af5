import type { AllocationSample } from './allocationSampler';

/** What the runner tells the server process when it forks it. */
export interface ServerConfig {
  redisUrl: string;
  clusterNodes?: Array<{ host: string; port: number }>;
  /** The private PostgreSQL of the PostgresStore scenarios, when PostgreSQL is installed. */
  postgresUrl?: string;
  /** Serve only these procedures of the bench router (app.ts), with only the clients they need; all when absent. */
  procedures?: string[];
}

/** Messages from the runner to the server process. */
export type ServerRequest =
  | { type: 'stats' }
  | { type: 'openGate' }
  | { type: 'startAllocationSampling' }
  | { type: 'stopAllocationSampling' }
  | { type: 'exit' };

/** Messages from the server process to the runner. */
export type ServerReply =
  | { type: 'ready'; port: number }
  | {
      type: 'stats';
      runs: number;
      requests: number;
      waiting: number;
      cpuUs: number;
      /** Queries the server's pg clients sent: pg sends one at a time, so each is one round trip. */
      pgRoundTrips: number;
      /** Time in young-generation collections (scavenges), and in all others, since the server started. */
      gcMinorUs: number;
      gcOtherUs: number;
    }
  | { type: 'gateOpened' }
  | { type: 'allocationSamplingStarted' }
  | { type: 'allocationSample'; sample: AllocationSample };

/** What the server process has counted since it started. */
export type ServerStats = Extract<ServerReply, { type: 'stats' }>;
