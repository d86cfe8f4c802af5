// The scratch projects of the install check: which of our packages each installs, which of the app's own
// libraries a user of that combination would add, and the TypeScript that such a user would write.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { root } from './workspace.mjs';

/** The version the workspace has installed (the lock's), so the scratch installs come from the npm cache. */
const installed = (name) =>
  `${name}@${JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')).version}`;

const tooling = () => [installed('typescript'), installed('@types/node')];

/**
 * `ours`: the folders under packages/ whose tarballs are installed (protocol always: it is not on the registry).
 * `peers`: what the app installs itself. `parts`: the pieces of check.mts / check.cts (see PARTS).
 * Optional peers: server-only keeps to MemoryStore without ioredis, which proves the server's types need
 * no ioredis; server+postgres adds pg and @types/pg (the app's own driver) and uses a transaction; client is a
 * React app with TanStack Query and tRPC's TanStack integration (it installs @tanstack/react-query, which
 * brings @tanstack/query-core, as such an app does); server+client uses RedisStore, so it adds ioredis, and has
 * neither react nor TanStack, which proves the client's main entry loads without its optional peers.
 * Only server+client has @opentelemetry/api, and passes it to both halves: the real API fits their structural
 * types, and the other combinations prove that nothing needs it installed.
 */
export function combinations() {
  return [
    {
      name: 'server',
      ours: ['protocol', 'server'],
      peers: [installed('@trpc/server'), ...tooling()],
      parts: ['server'],
    },
    {
      name: 'client',
      ours: ['protocol', 'client'],
      peers: [
        installed('@trpc/client'),
        installed('@trpc/server'),
        installed('react'),
        installed('@types/react'),
        installed('@tanstack/react-query'),
        installed('@trpc/tanstack-react-query'),
        ...tooling(),
      ],
      parts: ['router', 'client', 'react', 'tanstack'],
    },
    {
      name: 'server+postgres',
      ours: ['protocol', 'server', 'postgres'],
      peers: [installed('@trpc/server'), installed('pg'), installed('@types/pg'), ...tooling()],
      parts: ['server', 'postgres'],
    },
    {
      name: 'server+client',
      ours: ['protocol', 'server', 'client'],
      peers: [
        installed('@trpc/server'),
        installed('@trpc/client'),
        installed('ioredis'),
        installed('@opentelemetry/api'),
        ...tooling(),
      ],
      parts: ['server', 'redis', 'client', 'openTelemetry'],
    },
  ];
}

/** What `node -e` must find in each entry point, per part of a combination. */
export const RUNTIME_EXPORTS = {
  '@trpc-idempotency/protocol': ['IDEMPOTENCY_KEY_HEADER', 'parseIdempotencyKey', 'canonicalJson'],
  '@trpc-idempotency/server': [
    'createIdempotency',
    'MemoryStore',
    'RedisStore',
    'nodeIdempotencyContext',
    'idempotencyErrorFormatter',
    'createKeyIssuer',
  ],
  '@trpc-idempotency/postgres': [
    'PostgresStore',
    'PostgresStoreSetupError',
    'createSchema',
    'schemaSql',
    'transactionPool',
  ],
  '@trpc-idempotency/client': ['createIdempotentClient', 'idempotencyLink', 'createIntent', 'isIdempotencyError'],
  '@trpc-idempotency/client/react': ['useIdempotencyKey'],
  '@trpc-idempotency/client/tanstack': ['idempotentMutation', 'idempotencyOf'],
  '@trpc-idempotency/server/opentelemetry': ['openTelemetry'],
  '@trpc-idempotency/client/opentelemetry': ['openTelemetry'],
};

export function runtimeExports(combination) {
  const entries = combination.ours.map((folder) => `@trpc-idempotency/${folder}`);
  if (combination.parts.includes('react')) entries.push('@trpc-idempotency/client/react');
  if (combination.parts.includes('tanstack')) entries.push('@trpc-idempotency/client/tanstack');
  if (combination.parts.includes('openTelemetry')) {
    entries.push('@trpc-idempotency/server/opentelemetry', '@trpc-idempotency/client/opentelemetry');
  }
  return Object.fromEntries(entries.map((entry) => [entry, RUNTIME_EXPORTS[entry]]));
}

/** Each part is some imports and some code; `router` stands in for the server's router in a client-only app. */
const PARTS = {
  server: {
    imports: `
import { initTRPC } from '@trpc/server';
import type { CreateHTTPContextOptions } from '@trpc/server/adapters/standalone';
import {
  createIdempotency,
  createKeyIssuer,
  idempotencyErrorFormatter,
  MemoryStore,
  nodeIdempotencyContext,
  type IdempotencyHandlerContext,
  type IdempotencyOptions,
  type IdempotencyStore,
} from '@trpc-idempotency/server';`,
    code: `
export const createContext = (opts: CreateHTTPContextOptions) => ({ userId: 'user-1', ...nodeIdempotencyContext(opts) });
type Context = Awaited<ReturnType<typeof createContext>>;
const t = initTRPC.context<Context>().create({ errorFormatter: idempotencyErrorFormatter });
const store: IdempotencyStore = new MemoryStore();
const scope: IdempotencyOptions<Context>['scope'] = (ctx) => ctx.userId;
const keys = createKeyIssuer({ secret: 'a secret of at least thirty-two bytes', scope });
const idempotentProcedure = t.procedure.use(createIdempotency({ store, scope, serializer: 'json', issuedKeys: keys }));
export const appRouter = t.router({
  idempotencyKey: t.procedure.query(keys.issue),
  orders: t.router({
    create: idempotentProcedure
      .input((raw: unknown) => raw as { item: string })
      .mutation(({ ctx, input }) => {
        const idempotency: IdempotencyHandlerContext = ctx.idempotency;
        return { id: \`\${idempotency.key}:\${idempotency.fence}\`, item: input.item };
      }),
  }),
});
export type AppRouter = typeof appRouter;`,
  },
  redis: {
    imports: `
import { Redis, Cluster } from 'ioredis';
import { RedisStore } from '@trpc-idempotency/server';`,
    code: `
export const redisStore: IdempotencyStore = new RedisStore({ redis: new Redis('redis://127.0.0.1:6379', { lazyConnect: true }) });
export const clusterStore: IdempotencyStore = new RedisStore({ redis: new Cluster([{ host: '127.0.0.1', port: 7000 }], { lazyConnect: true }) });`,
  },
  postgres: {
    imports: `
import pg from 'pg';
import { createSchema, PostgresStore, PostgresStoreSetupError, transactionPool } from '@trpc-idempotency/postgres';`,
    code: `
const pool = new pg.Pool({ connectionString: 'postgres://app@127.0.0.1:5432/app' });
export async function startStore(): Promise<PostgresStore | string> {
  try {
    await createSchema(pool);
    return await new PostgresStore({ pool, timeoutMs: 2000 }).ready();
  } catch (error) {
    if (error instanceof PostgresStoreSetupError) return error.code;
    throw error;
  }
}
const payments = t.procedure.use(createIdempotency({ store: new PostgresStore({ pool }), scope, serializer: 'json', transaction: true }));
export const paymentRouter = t.router({
  pay: payments
    .input((raw: unknown) => raw as { cents: number })
    .mutation(async ({ ctx, input }) => {
      const tx: pg.PoolClient = ctx.idempotency.tx;
      const { rows } = await tx.query<{ id: string }>('INSERT INTO payments (cents, fence) VALUES ($1, $2) RETURNING id', [input.cents, ctx.idempotency.fence]);
      const viaPool = await transactionPool(tx).connect();
      viaPool.release();
      return { id: rows[0]?.id ?? '' };
    }),
});`,
  },
  openTelemetry: {
    imports: `
import * as otel from '@opentelemetry/api';
import { openTelemetry as serverTelemetry } from '@trpc-idempotency/server/opentelemetry';
import { openTelemetry as clientTelemetry } from '@trpc-idempotency/client/opentelemetry';`,
    code: `
export const tracedIdempotency = createIdempotency({ store, scope, serializer: 'json', telemetry: serverTelemetry({ api: otel }) });
export const tracedClient = createIdempotentClient<AppRouter>({
  url: 'http://localhost:3000/trpc',
  idempotency: { telemetry: clientTelemetry({ api: otel }) },
});`,
  },
  router: {
    imports: `
import { initTRPC } from '@trpc/server';`,
    code: `
const t = initTRPC.create();
export const appRouter = t.router({
  orders: t.router({
    create: t.procedure.input((raw: unknown) => raw as { item: string }).mutation(({ input }) => ({ id: 'o-1', item: input.item })),
  }),
});
export type AppRouter = typeof appRouter;`,
  },
  client: {
    imports: `
import { createTRPCClient, httpLink } from '@trpc/client';
import { createIdempotentClient, createIntent, idempotencyLink, isIdempotencyError } from '@trpc-idempotency/client';`,
    code: `
export const client = createIdempotentClient<AppRouter>({ url: 'http://localhost:3000/trpc', idempotency: { attempts: 3 } });
const viaLink = createTRPCClient<AppRouter>({ links: [idempotencyLink(), httpLink({ url: 'http://localhost:3000/trpc' })] });
const intent = createIntent({ storageKey: 'checkout' });
export async function checkout(item: string): Promise<string> {
  try {
    const order = await intent.run((idempotencyKey) => client.orders.create.mutate({ item }, { context: { idempotencyKey } }));
    const again = await viaLink.orders.create.mutate({ item }, intent.options());
    return \`\${order.id} \${again.item}\`;
  } catch (error) {
    if (isIdempotencyError(error, 'PAYLOAD_MISMATCH')) return error.data.idempotency.code;
    throw error;
  }
}`,
  },
  tanstack: {
    imports: `
import { QueryClient } from '@tanstack/react-query';
import { createTRPCOptionsProxy } from '@trpc/tanstack-react-query';
import { idempotencyOf, idempotentMutation } from '@trpc-idempotency/client/tanstack';`,
    code: `
const queryClient = new QueryClient();
const trpc = createTRPCOptionsProxy<AppRouter>({ client, queryClient });
export const createOrder = idempotentMutation(trpc.orders.create, { queryClient, client, intent: { storage: 'local' } });
export const orderOptions = createOrder.options({ retry: 3, onSuccess: (order) => order.id.length });
export const resumed: boolean = idempotencyOf({ context: undefined, submittedAt: 0 }).resumed;`,
  },
  react: {
    imports: `
import { useIdempotencyKey } from '@trpc-idempotency/client/react';`,
    code: `
export function useCheckout(): (item: string) => Promise<string> {
  const { run } = useIdempotencyKey('checkout', { storage: 'session' });
  return (item) => run((idempotencyKey) => client.orders.create.mutate({ item }, { context: { idempotencyKey } })).then((order) => order.id);
}`,
  },
};

/** The same program as ESM (check.mts) and CJS (check.cts), so both `import` and `require` types are used. */
export function typeScriptFiles(combination) {
  const parts = combination.parts.map((name) => PARTS[name]);
  const program = `// What a user of ${combination.ours.join(' + ')} writes.\n${parts.map((p) => p.imports.trim()).join('\n')}\n${parts
    .map((p) => p.code)
    .join('\n')}\n`;
  // skipLibCheck false checks every package's .d.ts; skipDefaultLibCheck skips only TypeScript's own lib.*.d.ts.
  const base = {
    strict: true,
    noEmit: true,
    skipLibCheck: false,
    skipDefaultLibCheck: true,
    target: 'es2022',
    types: ['node'],
  };
  return {
    'check.mts': program,
    'check.cts': program,
    // A Node app: nodenext resolution, no DOM library.
    'tsconfig.nodenext.json': json({
      compilerOptions: { ...base, module: 'nodenext', moduleResolution: 'nodenext', lib: ['es2023'] },
      files: ['check.mts', 'check.cts'],
    }),
    // A bundled app (Vite, Next.js): bundler resolution, DOM library.
    'tsconfig.bundler.json': json({
      compilerOptions: { ...base, module: 'esnext', moduleResolution: 'bundler', lib: ['es2023', 'dom'] },
      files: ['check.mts'],
    }),
  };
}

const json = (value) => `${JSON.stringify(value, null, 2)}\n`;
