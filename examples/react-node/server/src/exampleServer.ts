import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createHTTPHandler } from '@trpc/server/adapters/standalone';
import { createBackends } from './backends.js';
import { Chaos } from './chaos.js';
import { buildAppRouter, createContext } from './router.js';
import { serveStatic } from './staticFiles.js';

/** Options of {@link startExampleServer}. */
export interface ExampleServerOptions {
  /** 0 picks a free port. */
  port: number;
  host?: string;
  /** Payments and idempotency records go to Redis when set, to memory otherwise. */
  redisUrl?: string;
  /** The built web app. Default: web/dist next to the server. */
  webRoot?: string;
}

/** A running example server. */
export interface ExampleServer {
  url: string;
  backend: 'memory' | 'redis';
  close(): Promise<void>;
}

const LOCAL_HOSTS = new Set(['127.0.0.1', '0.0.0.0', '::', '::1']);
const DEFAULT_WEB_ROOT = fileURLToPath(new URL('../../web/dist', import.meta.url));

/**
 * Starts one HTTP server that answers tRPC at /trpc (behind the chaos switches) and serves the web app elsewhere.
 *
 * @example
 * const server = await startExampleServer({ port: 3000, redisUrl: process.env.REDIS_URL });
 * console.log(server.url);
 */
export async function startExampleServer(options: ExampleServerOptions): Promise<ExampleServer> {
  const backends = await createBackends(options.redisUrl);
  const chaos = new Chaos();
  const router = buildAppRouter({ ...backends, backend: backends.kind, chaos });
  const trpc = chaos.wrap(createHTTPHandler({ router, createContext, basePath: '/trpc/' }));
  const web = serveStatic(options.webRoot ?? DEFAULT_WEB_ROOT);

  const server = createServer((req, res) => {
    if (req.url?.startsWith('/trpc/')) trpc(req, res);
    else void web(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  const host = !options.host || LOCAL_HOSTS.has(options.host) ? 'localhost' : options.host;
  return {
    url: `http://${host}:${port}`,
    backend: backends.kind,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await backends.close();
    },
  };
}
