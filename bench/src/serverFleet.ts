import type { Scenario } from './scenarios';
import { type ServerHandle, type StartServerOptions, startServer } from './serverHandle';

/**
 * The server processes of one run: one process per `ownProcess` scenario, serving only that scenario's
 * procedure, and the shared process that serves every procedure (the other scenarios, the audits and
 * the client costs). Variants in processes of their own do not share garbage, JIT state or event loop.
 */
export interface ServerFleet {
  shared: ServerHandle;
  /** The process a scenario runs against: its own, or the shared one. */
  serverFor(scenario: Scenario): ServerHandle;
  /** Stops every process-of-its-own and starts fresh ones, so that the next run starts cold as this one did. */
  renewOwn(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts the shared process and one process per `ownProcess` scenario of `scenarios`, all at once. */
export async function startFleet(options: StartServerOptions, scenarios: readonly Scenario[]): Promise<ServerFleet> {
  const own = scenarios.filter((scenario) => scenario.ownProcess);
  const startOwn = async () =>
    new Map(
      await Promise.all(
        own.map(
          async (scenario) =>
            [
              scenario.id,
              await startServer({ ...options, cpuProfileDir: undefined, procedures: [scenario.path] }),
            ] as const,
        ),
      ),
    );
  const [shared, first] = await Promise.all([startServer(options), startOwn()]);
  let owned = first;
  return {
    shared,
    serverFor: (scenario) => owned.get(scenario.id) ?? shared,
    async renewOwn() {
      await Promise.all([...owned.values()].map((server) => server.stop()));
      owned = await startOwn();
    },
    async stop() {
      await Promise.all([shared, ...owned.values()].map((server) => server.stop()));
    },
  };
}
