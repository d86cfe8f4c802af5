import type { TRPCError } from '@trpc/server';
import { getHTTPStatusCodeFromError } from '@trpc/server/http';
import superjson from 'superjson';
import { z } from 'zod';
import type { IdempotencyEvent } from './events.js';
import type { Serializer } from './outcome.js';
import type { IdempotencyStore } from './store/types.js';

/** A function of the request context that says whose key it is: a user, tenant or API key id. */
export type ScopeFunction<TContext> = (
  ctx: TContext,
) => string | number | null | undefined | Promise<string | number | null | undefined>;

/** Options of {@link createIdempotency}. */
export interface IdempotencyOptions<TContext> {
  /** Where records live: `new MemoryStore()` for one process, `new RedisStore({ redis })` for many. */
  store: IdempotencyStore;
  /**
   * Whose key it is. Two scopes never see each other's records, even with the same key.
   * `'global'` shares one scope between all callers, and must be chosen on purpose.
   */
  scope: ScopeFunction<TContext> | 'global';
  /** How long a completed outcome is replayed, in ms. Default 24 h. */
  retentionMs?: number;
  /** How long a holder's lease lasts without renewal, in ms. It is renewed at a third of this. Default 30 s. */
  leaseMs?: number;
  /** Whether a mutation without a key is rejected with 400 `KEY_MISSING`. Default `true`. */
  required?: boolean;
  /** What a duplicate gets while the first request runs: `'reject'` (409, the default) or `{ waitMs }` for its outcome. */
  inProgress?: 'reject' | { waitMs: number };
  /** When the store cannot be reached: `'fail-closed'` answers 503 (the default), `'fail-open'` runs the handler unprotected. */
  onStoreError?: 'fail-closed' | 'fail-open';
  /** Which errors a handler throws are stored and replayed. Default: 4xx, except 408, 429 and 499. */
  shouldStoreError?: (error: TRPCError) => boolean;
  /** How outcomes and inputs are serialized. Default superjson, so Dates, Maps, Sets and BigInts survive. */
  serializer?: Serializer;
  /** Separates the records of several apps that share one store. Default `'default'`. */
  namespace?: string;
  /** Called at each step, for logs and metrics. It must not throw; errors it throws are ignored. */
  onEvent?: (event: IdempotencyEvent) => void;
}

const TRANSIENT_CLIENT_ERRORS = new Set([408, 429, 499]);

/** The default for `shouldStoreError`: errors a client caused on purpose are final, transient ones are not. */
export function storeClientErrors(error: TRPCError): boolean {
  const status = getHTTPStatusCodeFromError(error);
  return status >= 400 && status < 500 && !TRANSIENT_CLIENT_ERRORS.has(status);
}

const fn = (what: string) =>
  z.custom<(...args: any[]) => any>((value) => typeof value === 'function', { message: `must be ${what}` });

const optionsSchema = z
  .object({
    store: z.custom<IdempotencyStore>(
      (value) =>
        typeof value === 'object' &&
        value !== null &&
        ['claim', 'complete', 'release', 'renewLease'].every((m) => typeof (value as any)[m] === 'function'),
      { message: 'must be an idempotency store, such as new MemoryStore() or new RedisStore({ redis })' },
    ),
    scope: z.union([z.literal('global'), fn('a function of the context')], {
      message: "must be a function of the context, or 'global' to share one scope on purpose",
    }),
    retentionMs: z
      .number()
      .int()
      .positive()
      .default(24 * 60 * 60 * 1000),
    leaseMs: z.number().int().min(30).default(30_000),
    required: z.boolean().default(true),
    inProgress: z
      .union([z.literal('reject'), z.object({ waitMs: z.number().int().positive() }).strict()], {
        message: "must be 'reject' or { waitMs: number }",
      })
      .default('reject'),
    onStoreError: z.enum(['fail-closed', 'fail-open']).default('fail-closed'),
    shouldStoreError: fn('a function of the error').default(() => storeClientErrors),
    serializer: z
      .object(
        { serialize: fn('a function'), deserialize: fn('a function') },
        { message: 'must have serialize and deserialize' },
      )
      .default(() => superjson),
    namespace: z.string().min(1).default('default'),
    onEvent: fn('a function of the event').optional(),
  })
  .strict()
  .refine((options) => options.retentionMs >= options.leaseMs, {
    message: 'must be at least as long as leaseMs',
    path: ['retentionMs'],
  });

/** The options with their defaults filled in. */
export interface ResolvedIdempotencyOptions<TContext> {
  store: IdempotencyStore;
  scope: ScopeFunction<TContext> | 'global';
  retentionMs: number;
  leaseMs: number;
  required: boolean;
  inProgress: 'reject' | { waitMs: number };
  onStoreError: 'fail-closed' | 'fail-open';
  shouldStoreError: (error: TRPCError) => boolean;
  serializer: Serializer;
  namespace: string;
  onEvent: ((event: IdempotencyEvent) => void) | undefined;
}

/** Checks the options and fills in defaults; a bad option throws a `TypeError` that names it. */
export function resolveOptions<TContext>(options: IdempotencyOptions<TContext>): ResolvedIdempotencyOptions<TContext> {
  const parsed = optionsSchema.safeParse(options ?? {});
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      if (issue.code === 'unrecognized_keys')
        return `unknown option${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
      const name = issue.path.join('.') || '(options)';
      return `option "${name}" ${issue.message.startsWith('must') ? issue.message : `is invalid: ${issue.message}`}`;
    });
    throw new TypeError(`createIdempotency: ${problems.join('; ')}.`);
  }
  return parsed.data as ResolvedIdempotencyOptions<TContext>;
}
