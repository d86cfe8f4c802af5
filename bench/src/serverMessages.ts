/** What the runner tells the server process when it forks it. */
export interface ServerConfig {
  redisUrl: string;
  clusterNodes?: Array<{ host: string; port: number }>;
}

/** Messages from the runner to the server process. */
export type ServerRequest = { type: 'stats' } | { type: 'openGate' } | { type: 'exit' };

/** Messages from the server process to the runner. */
export type ServerReply =
  | { type: 'ready'; port: number }
  | { type: 'stats'; runs: number; requests: number; waiting: number; cpuUs: number }
  | { type: 'gateOpened' };

/** What the server process has counted since it started. */
export type ServerStats = Extract<ServerReply, { type: 'stats' }>;
