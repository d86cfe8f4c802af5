import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createHTTPHandler } from '@trpc/server/adapters/standalone';
import { type BackendKind, createBackends } from './backends.js';
import { Chaos } from './chaos.js';
import type { PostgresTables } from './postgresBackends.js';
import { buildAppRouter, createContext } from './router.js';
import { serveStatic } from './staticFiles.js';

/** Options of {@link startExampleServer}. */
export interface ExampleServerOptions {
  /** 0 picks a free port. */
  port: number;
  host?: string;
  /** Payments and idempotency records go to this PostgreSQL database when set (it wins over `redisUrl`). */
  databaseUrl?: string;
  /** The PostgreSQL tables, for tests that share one database. */
  postgresTables?: PostgresTables;
  /** Payments and idempotency records go to Redis when set (it wins over `sqliteFile`). */
  redisUrl?: string;
  /** Payments and idempotency records go to this SQLite file when set, to memory otherwise. */
  sqliteFile?: string;
  /** The built web app. Default: web/dist next to the server. */
  webRoot?: string;
  /**
   * Runs the server as the demo (`npm start` sets it): the chaos panel's faults and endpoints, and a
   * short idempotency lease so that "pause the handler past its lease" shows a takeover within seconds.
   * Off by default: a server copied from here has neither.
   */
  demo?: boolean;
}

/** A running example server. */
export interface ExampleServer {
  url: string;
  backend: BackendKind;
  /** Where the data lives, in words, for the start line. */
  where: string;
  demo: boolean;
  close(): Promise<void>;
}

/** The demo's lease: shorter than the client's 10 s attempt timeout, so a retry can take a stopped handler over. */
export const DEMO_LEASE_MS = 5000;

const LOCAL_HOSTS = new Set(['127.0.0.1', '0.0.0.0', '::', '::1']);
const DEFAULT_WEB_ROOT = fileURLToPath(new URL('../../web/dist', import.meta.url));

/**
 * Starts one HTTP server that answers tRPC at /trpc and serves the web app elsewhere; in the demo, the
 * chaos switches sit between the network and tRPC.
 *
 * @example
 * const server = await startExampleServer({ port: 3000, sqliteFile: 'examples/react-node/.data/payments.db' });
 * console.log(server.url);
 */
export async function startExampleServer(options: ExampleServerOptions): Promise<ExampleServer> {
  const backends = await createBackends({
    databaseUrl: options.databaseUrl,
    postgresTables: options.postgresTables,
    redisUrl: options.redisUrl,
    sqliteFile: options.sqliteFile,
    // SQLite has one writer: a handler stopped past its lease would hold the file's write lock, and every
    // other payment with it. In the demo its transaction is rolled back when its lease ends.
    ...(options.demo ? { sqlite: { transactionTimeoutMs: DEMO_LEASE_MS } } : {}),
  });
  const chaos = options.demo ? new Chaos() : null;
  const router = buildAppRouter({
    payments: chaos ? chaos.leasePause.wrapPayments(backends) : backends,
    health: backends.health,
    setStoreReachable: backends.setStoreReachable,
    chaos,
    ...(chaos ? { leaseMs: DEMO_LEASE_MS } : {}),
  });
  const tRPCHandler = createHTTPHandler({ router, createContext, basePath: '/trpc/' });
  const trpc = chaos ? chaos.wrap(tRPCHandler) : tRPCHandler;
  const web = serveStatic(options.webRoot ?? DEFAULT_WEB_ROOT);

  const server = createServer((req, res) => {
    if (req.url?.startsWith('/trpc/')) trpc(req, res);
    else void web(req, res);
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.host ?? '127.0.0.1', resolve);
    });
  } catch (error) {
    await backends.close();
    throw error;
  }
  const { port } = server.address() as AddressInfo;
  const host = !options.host || LOCAL_HOSTS.has(options.host) ? 'localhost' : options.host;
  return {
    url: `http://${host}:${port}`,
    backend: backends.kind,
    where: backends.where,
    demo: chaos !== null,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await backends.close();
    },
  };
}
