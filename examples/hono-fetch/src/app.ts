import { serve } from '@hono/node-server';
import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import { type IdempotencyStore, MemoryStore, RedisStore } from '@trpc-idempotency/server';
import { Hono } from 'hono';
import { Redis } from 'ioredis';
import { type Ledger, memoryLedger, redisLedger } from './ledger.js';
import { buildRouter, createContext } from './router.js';

/** A running example: its URL, where it keeps things, and how to stop it. */
export interface HonoExample {
  url: string;
  backend: 'memory' | 'redis';
  close(): Promise<void>;
}

const PAGE = `trpc-idempotency on a fetch runtime (Hono). Pay with:
curl -i -X POST $URL/trpc/payments.create -H 'content-type: application/json' -H 'Idempotency-Key: demo-1' \\
  -d '{"json":{"amount":1250,"currency":"USD","note":"paid with curl"}}'
and list the ledger with: curl $URL/trpc/payments.list
`;

/**
 * Builds the Hono app: tRPC's fetch adapter under /trpc, a short how-to at /. It runs wherever Hono runs
 * (Node through @hono/node-server here; Bun, Deno, Workers with a store they can reach).
 *
 * @example
 * const app = buildApp({ store: new MemoryStore(), ledger: memoryLedger() });
 * serve({ fetch: app.fetch, port: 3001 });
 */
export function buildApp(deps: { store: IdempotencyStore; ledger: Ledger }) {
  const router = buildRouter(deps);
  const app = new Hono();
  app.all('/trpc/*', (c) => fetchRequestHandler({ endpoint: '/trpc', req: c.req.raw, router, createContext }));
  app.get('/', (c) => c.text(PAGE.replaceAll('$URL', new URL(c.req.url).origin)));
  return app;
}

/** Starts the example on `port` (0 picks a free one), in memory or, with `redisUrl`, on Redis. */
export async function startHonoExample(options: {
  port: number;
  hostname?: string;
  redisUrl?: string;
}): Promise<HonoExample> {
  let deps: { store: IdempotencyStore; ledger: Ledger };
  let closeBackend = async () => {};
  if (options.redisUrl) {
    const redis = new Redis(options.redisUrl, { maxRetriesPerRequest: 1 });
    redis.on('error', (error: Error) => console.warn(`Redis: ${error.message}`));
    deps = { store: new RedisStore({ redis, prefix: 'trpc-idempotency-hono:idem:' }), ledger: redisLedger(redis) };
    closeBackend = async () => {
      await redis.quit();
    };
  } else {
    const store = new MemoryStore();
    deps = { store, ledger: memoryLedger() };
    closeBackend = async () => store.close();
  }
  const app = buildApp(deps);
  const hostname = options.hostname ?? '127.0.0.1';
  const { server, port } = await new Promise<{ server: ReturnType<typeof serve>; port: number }>((resolve, reject) => {
    const server = serve({ fetch: app.fetch, port: options.port, hostname }, (info) =>
      resolve({ server, port: info.port }),
    );
    server.once('error', reject);
  });
  return {
    url: `http://${hostname === '0.0.0.0' ? 'localhost' : hostname}:${port}`,
    backend: options.redisUrl ? 'redis' : 'memory',
    close: async () => {
      // Answers in flight are still written: close each connection once it is idle, and force the rest after 2 s.
      const http = server as { closeIdleConnections?: () => void; closeAllConnections?: () => void };
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      const idle = setInterval(() => http.closeIdleConnections?.(), 20);
      const force = setTimeout(() => http.closeAllConnections?.(), 2000);
      await closed;
      clearInterval(idle);
      clearTimeout(force);
      await closeBackend();
    },
  };
}
