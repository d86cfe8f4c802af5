import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createHTTPHandler } from '@trpc/server/adapters/standalone';
import { IDEMPOTENCY_KEY_HEADER } from '@trpc-idempotency/protocol';
import { nodeIdempotencyContext } from '@trpc-idempotency/server';
import { build } from 'esbuild';
import superjson from 'superjson';
import { buildIntentPageRouter, type Ledger } from '../fixtures/intent-page/router.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/intent-page/', import.meta.url));
const src = (path: string) => fileURLToPath(new URL(`../../../packages/${path}`, import.meta.url));

/** One request the server saw for `payments.create`. */
export interface SeenPayment {
  key: string | undefined;
  /** What the server answered: 503 for an injected failure, else tRPC's own status. */
  status: number;
}

/** The intent page and its API on a free port, with the faults a test sets. */
export interface IntentPageServer {
  url: string;
  ledger: Ledger;
  /** Every `payments.create` request, in arrival order. */
  requests: SeenPayment[];
  /** Answers the first `count` requests of each key with 503 before they reach tRPC. */
  failFirstAttempts(count: number): void;
  close(): Promise<void>;
}

/**
 * Bundles the intent page (test/e2e/fixtures/intent-page) with esbuild, from the packages' src, as a
 * browser app would bundle them, and serves it with its service worker and its tRPC API.
 */
export async function startIntentPageServer(): Promise<IntentPageServer> {
  const bundle = await build({
    entryPoints: [`${FIXTURE}main.tsx`],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    jsx: 'automatic',
    write: false,
    logLevel: 'silent',
    define: { 'process.env.NODE_ENV': '"production"' },
    alias: {
      '@trpc-idempotency/protocol': src('protocol/src/index.ts'),
      '@trpc-idempotency/client/react': src('client/src/react/index.ts'),
      '@trpc-idempotency/client/tanstack': src('client/src/tanstack/index.ts'),
      '@trpc-idempotency/client': src('client/src/index.ts'),
    },
  });
  const files: Record<string, { type: string; body: string }> = {
    '/': { type: 'text/html', body: PAGE },
    '/app.js': { type: 'text/javascript', body: bundle.outputFiles[0]!.text },
    '/sw.js': { type: 'text/javascript', body: SERVICE_WORKER },
  };

  const ledger: Ledger = { payments: [], started: 0, handlerDelayMs: 0 };
  const { router, close: closeRouter } = buildIntentPageRouter(ledger);
  const requests: SeenPayment[] = [];
  let failFirst = 0;
  const attemptsByKey = new Map<string, number>();
  const trpc = createHTTPHandler({
    router,
    basePath: '/trpc/',
    createContext: (opts) => {
      const customer = opts.req.headers['x-customer'];
      return { customer: typeof customer === 'string' ? customer : 'customer-1', ...nodeIdempotencyContext(opts) };
    },
  });

  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://page').pathname;
    if (!path.startsWith('/trpc/')) {
      const file = files[path];
      res.writeHead(file ? 200 : 404, { 'content-type': file?.type ?? 'text/plain', 'cache-control': 'no-store' });
      res.end(file?.body ?? 'not found');
      return;
    }
    if (path === '/trpc/payments.create') {
      const header = req.headers[IDEMPOTENCY_KEY_HEADER.toLowerCase()];
      const key = typeof header === 'string' ? header : undefined;
      const seen = { key, status: 0 };
      requests.push(seen);
      const attempt = (attemptsByKey.get(key ?? '') ?? 0) + 1;
      attemptsByKey.set(key ?? '', attempt);
      if (attempt <= failFirst) {
        // What a gateway in front of the app answers while the app restarts, in tRPC's error shape.
        seen.status = 503;
        const error = superjson.serialize({
          message: 'the payment service is restarting',
          code: -32603,
          data: { code: 'SERVICE_UNAVAILABLE', httpStatus: 503, idempotency: null },
        });
        req.resume();
        res.writeHead(503, { 'content-type': 'application/json' }).end(JSON.stringify({ error }));
        return;
      }
      res.on('finish', () => {
        seen.status = res.statusCode;
      });
    }
    trpc(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    ledger,
    requests,
    failFirstAttempts(count) {
      failFirst = count;
    },
    close: () =>
      new Promise<void>((resolve) => {
        closeRouter();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const PAGE = `<!doctype html>
<html lang="en">
  <head><meta charset="utf-8"><title>intent page</title></head>
  <body><div id="root"></div><script type="module" src="/app.js"></script></body>
</html>`;

// The page works offline as a payment form on a train would: the shell comes from this cache, the API
// never does (its requests go to the network, where the browser's offline emulation stops them).
const SERVICE_WORKER = `
const SHELL = ['/', '/app.js'];
self.addEventListener('install', (event) => {
  event.waitUntil(caches.open('shell').then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));
self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (url.origin === location.origin && SHELL.includes(url.pathname)) {
    event.respondWith(caches.match(url.pathname).then((hit) => hit || fetch(event.request)));
  }
});
`;
