import {
  type Mutation,
  type MutationFunctionContext,
  type MutationKey,
  type MutationOptions,
  type MutationState,
  onlineManager,
  type QueryClient,
} from '@tanstack/query-core';
import { getUntypedClient, type TRPCClient } from '@trpc/client';
import { createIntent, type Intent, type IntentOptions, intentInternals } from '../intent.js';
import { randomIdempotencyKey } from '../keys.js';

/** What an idempotent mutation keeps in its state (`mutation.state.context`), so it survives retries and reloads. */
export interface IdempotencyMutationContext<TOnMutateResult = unknown> {
  /** The mutation's key, given when it was created; every attempt, retry and resumption sends it. */
  idempotencyKey: string;
  /** True for a mutation that a reload interrupted and {@link IdempotentMutation.resume} resumed. */
  resumed?: boolean;
  /** What your own `onMutate` returned. */
  onMutateResult?: TOnMutateResult;
}

/** The part of `trpc.x.y` (from `useTRPC()` or `createTRPCOptionsProxy()`) that this integration reads. */
export interface TRPCMutationProcedureLike<TData, TError, TVariables> {
  mutationOptions(): MutationOptions<TData, TError, TVariables, any> & {
    mutationKey: MutationKey;
    trpc: { path: string };
  };
}

/** Settings of {@link idempotentMutation}. */
export interface IdempotentMutationSettings {
  /** The app's QueryClient: the mutation's defaults are registered there, so a reload can resume it. */
  queryClient: QueryClient;
  /** The idempotent tRPC client (`createIdempotentClient`) that sends the mutation. */
  client: TRPCClient<any>;
  /**
   * The intent whose key each mutation takes: an {@link Intent}, or options for one. Default: an intent
   * in localStorage named after the procedure, shared by every tab, so a double click, a second tab and
   * a reload all pay the same intent. `false`: a new key for each `mutate()` (lists where each call is a
   * new thing), kept in the mutation's state like the intent's.
   */
  intent?: Intent | IntentOptions | false;
  /**
   * `'server'`: keys come from the server's key-issuing query (`keyProcedure`), asked for once per intent
   * (or per mutation with `intent: false`). Default `'uuid'`.
   */
  key?: 'uuid' | 'server';
  /** The path of the key-issuing query, for `key: 'server'`. Default `'idempotencyKey'`. */
  keyProcedure?: string;
}

type Options<TData, TError, TVariables, TOnMutateResult> = MutationOptions<
  TData,
  TError,
  TVariables,
  IdempotencyMutationContext<TOnMutateResult>
>;

/** Your own options for one `useMutation`; `onMutate`'s result is kept as `context.onMutateResult`. */
export type IdempotentMutationOverrides<TData, TError, TVariables, TOnMutateResult = unknown> = Omit<
  Options<TData, TError, TVariables, TOnMutateResult>,
  'mutationFn' | 'mutationKey' | 'onMutate'
> & {
  onMutate?: (variables: TVariables, context: MutationFunctionContext) => TOnMutateResult | Promise<TOnMutateResult>;
};

/** One tRPC mutation bound to TanStack Query with an idempotency key per intent. */
export interface IdempotentMutation<TData, TError, TVariables> {
  readonly mutationKey: MutationKey;
  /** The intent whose key the mutations take, or undefined with `intent: false`. */
  readonly intent: Intent | undefined;
  /**
   * Options for `useMutation` (or `queryClient.getMutationCache().build`), with yours laid over.
   * React Query's `retry` and the link's retries are one layer: with `retry` set here (or in the
   * QueryClient's defaults), each try sends one request and React Query retries; without it, the link
   * retries (attempts, backoff, `Retry-After`), and React Query does not.
   */
  options<TOnMutateResult = unknown>(
    overrides?: IdempotentMutationOverrides<TData, TError, TVariables, TOnMutateResult>,
  ): Options<TData, TError, TVariables, TOnMutateResult>;
  /**
   * Resumes, once, the mutations of this procedure that a reload interrupted: paused ones a persister
   * restored (`persistQueryClient`), and calls that were in flight or waiting for the network, which the
   * intent kept. Each keeps its key; one that waits for the network resumes when it is back. Call it
   * once at start, after the persister restored the cache (`PersistQueryClientProvider`'s `onSuccess`).
   * Resolves once they are under way; each mutation's state tells how it goes. Calling it again is harmless.
   */
  resume(): Promise<void>;
  /**
   * A `select` for `useMutationState` that hands your function this mutation's state typed: `data` is the
   * procedure's output, `variables` its input, `context` the idempotency context. Pair it with
   * `filters: { mutationKey }`, so that only this procedure's mutations reach it (the type is trusted, not checked).
   *
   * @example
   * const receipts = useMutationState({ filters: { mutationKey: pay.mutationKey }, select: pay.select((s) => s.data) });
   */
  select<TResult>(
    select: (state: MutationState<TData, TError, TVariables, IdempotencyMutationContext>) => TResult,
  ): (mutation: Mutation<any, any, any, any>) => TResult;
}

// Mutations made in an earlier page load have an older submittedAt; that is how a resumed one is told.
const PAGE_STARTED_AT = typeof performance !== 'undefined' ? performance.timeOrigin : Date.now();

/**
 * Binds a tRPC mutation to TanStack Query so that each mutation gets its idempotency key when it is
 * created and keeps it in its state: React Query's `retry`, a mutation paused offline (`networkMode`), one
 * persisted with `persistQueryClient` and one in flight during a reload all send that key, never a new one.
 * Create it once, beside the QueryClient.
 *
 * @example
 * export const pay = idempotentMutation(trpc.payments.create, { queryClient, client: trpcClient });
 * void pay.resume(); // at start: finishes what a reload interrupted
 * // in a component:
 * const payment = useMutation(pay.options({ retry: 3, onSuccess: (receipt) => show(receipt) }));
 */
export function idempotentMutation<TData, TError, TVariables>(
  procedure: TRPCMutationProcedureLike<TData, TError, TVariables>,
  settings: IdempotentMutationSettings,
): IdempotentMutation<TData, TError, TVariables> {
  if (typeof procedure?.mutationOptions !== 'function') {
    throw new TypeError('idempotentMutation(procedure): pass trpc.<path> from useTRPC() or createTRPCOptionsProxy().');
  }
  if (typeof settings !== 'object' || settings === null) {
    throw new TypeError('idempotentMutation(procedure, settings): settings must be an object.');
  }
  const { queryClient, client } = settings;
  if (typeof queryClient?.getMutationCache !== 'function') {
    throw new TypeError('idempotentMutation: setting "queryClient" must be a TanStack QueryClient.');
  }
  const untyped = (() => {
    try {
      return getUntypedClient(client);
    } catch {
      return undefined;
    }
  })();
  if (typeof untyped?.mutation !== 'function') {
    throw new TypeError('idempotentMutation: setting "client" must be a tRPC client (createIdempotentClient).');
  }
  const strategy = settings.key ?? 'uuid';
  if (strategy !== 'uuid' && strategy !== 'server') {
    throw new TypeError(`idempotentMutation: setting "key" must be 'uuid' or 'server'.`);
  }
  const keyProcedure = settings.keyProcedure ?? 'idempotencyKey';
  const issue =
    strategy === 'server'
      ? () => untyped.query(keyProcedure, undefined) as Promise<string | { key: string }>
      : undefined;
  const base = procedure.mutationOptions();
  const { mutationKey } = base;
  const path = base.trpc.path;
  const intent: Intent | undefined =
    settings.intent === false
      ? undefined
      : isIntent(settings.intent)
        ? settings.intent
        : createIntent({ storage: 'local', storageKey: `trpc-idempotency:${path}`, issue, ...settings.intent });
  const internals = intent ? intentInternals(intent) : undefined;

  const newKey = async (): Promise<string> => {
    if (intent) return intent.ready();
    if (!issue) return randomIdempotencyKey();
    const answer = await issue();
    return typeof answer === 'string' ? answer : answer.key;
  };

  const mutationFn = async (variables: TVariables, fnContext: MutationFunctionContext): Promise<TData> => {
    const mutation = findOwnMutation(fnContext.client, mutationKey, variables);
    const idempotencyKey = mutation?.state.context?.idempotencyKey ?? (await newKey());
    // One retry layer: when React Query retries, each of its tries is one request.
    const reactQueryRetries = mutation !== undefined && retriesAtAll(mutation.options.retry);
    const send = (key: string) =>
      untyped.mutation(path, variables, {
        context: { idempotencyKey: key, ...(reactQueryRetries ? { idempotency: { attempts: 1 } } : {}) },
      }) as Promise<TData>;
    return intent ? intent.run(send, { key: idempotencyKey, input: variables, track: false }) : send(idempotencyKey);
  };

  const options = <TOnMutateResult = unknown>(
    overrides: IdempotentMutationOverrides<TData, TError, TVariables, TOnMutateResult> = {},
  ): Options<TData, TError, TVariables, TOnMutateResult> => {
    const { onMutate, onSuccess, onError, onSettled, ...rest } = overrides;
    return {
      ...rest,
      mutationKey,
      mutationFn,
      async onMutate(variables, fnContext) {
        const idempotencyKey = await newKey();
        // Kept from now, even while paused offline, so that a reload resumes it with this key.
        internals?.track(idempotencyKey, variables);
        const context: IdempotencyMutationContext<TOnMutateResult> = { idempotencyKey };
        if (onMutate) context.onMutateResult = await onMutate(variables, fnContext);
        return context;
      },
      onSuccess,
      onError,
      async onSettled(data, error, variables, context, fnContext) {
        if (context) internals?.untrack(context.idempotencyKey);
        return onSettled?.(data, error, variables, context, fnContext);
      },
    };
  };

  // TanStack Query v5 assumes it is online until an `offline` event says otherwise, so a page loaded
  // without a network would send its mutations instead of pausing them. `navigator.onLine === false` is
  // reliable (only `true` is not), so a page that starts offline pauses its mutations as it should.
  if ((globalThis as { navigator?: { onLine?: unknown } }).navigator?.onLine === false) onlineManager.setOnline(false);

  // A mutation restored from storage has no options of its own: these defaults give it its mutationFn.
  queryClient.setMutationDefaults(mutationKey, options() as MutationOptions<unknown, unknown, unknown, unknown>);

  return {
    mutationKey,
    intent,
    options,
    select: (select) => (mutation) => select(mutation.state),
    async resume() {
      const cache = queryClient.getMutationCache();
      const restored = cache.findAll({ mutationKey, exact: true, status: 'pending' });
      const held = new Set(
        restored.map((mutation) => (mutation.state.context as IdempotencyMutationContext)?.idempotencyKey),
      );
      const runs: Array<Promise<unknown>> = restored.map((mutation) => mutation.continue());
      for (const call of intent?.pending() ?? []) {
        if (held.has(call.key)) continue;
        held.add(call.key);
        // Another open tab is sending it: that tab shows it, and finishes it.
        if (await internals?.runningElsewhere(call.key)) continue;
        const mutation = cache.build(queryClient, options(), {
          context: { idempotencyKey: call.key, resumed: true },
          data: undefined,
          error: null,
          failureCount: 0,
          failureReason: null,
          isPaused: false,
          status: 'pending',
          variables: call.input as TVariables,
          submittedAt: call.startedAt,
        });
        runs.push(mutation.continue());
      }
      // A failed resumption is the mutation's own error, shown by its state; resume() itself does not fail.
      for (const run of runs) run.catch(() => undefined);
    },
  };
}

/**
 * The idempotency facts of a mutation's state, for a UI that lists mutations (`useMutationState`): its
 * key, and whether it was resumed after a reload rather than started in this page.
 *
 * @example
 * const payments = useMutationState({ filters: { mutationKey: pay.mutationKey }, select: (m) => ({ ...idempotencyOf(m.state), status: m.state.status }) });
 */
export function idempotencyOf(state: Pick<MutationState<any, any, any, any>, 'context' | 'submittedAt'>): {
  key: string | undefined;
  resumed: boolean;
} {
  const context = state.context as Partial<IdempotencyMutationContext> | undefined;
  const key = typeof context?.idempotencyKey === 'string' ? context.idempotencyKey : undefined;
  return { key, resumed: key !== undefined && (context?.resumed === true || state.submittedAt < PAGE_STARTED_AT) };
}

/**
 * The pending mutation that called `mutationFn` with these variables. TanStack hands `mutationFn` the
 * very object it keeps in `mutation.state.variables`, on the first try, on every retry and after a
 * restore, which is how the mutation's own key is found.
 */
function findOwnMutation(
  client: QueryClient,
  mutationKey: MutationKey,
  variables: unknown,
): Mutation<any, any, any, IdempotencyMutationContext> | undefined {
  const candidates = client
    .getMutationCache()
    .findAll({ mutationKey, exact: true, status: 'pending' })
    .filter((mutation) => mutation.state.variables === variables);
  return candidates.at(-1) as Mutation<any, any, any, IdempotencyMutationContext> | undefined;
}

function retriesAtAll(retry: unknown): boolean {
  if (typeof retry === 'number') return retry > 0;
  return retry === true || typeof retry === 'function';
}

function isIntent(value: unknown): value is Intent {
  return typeof value === 'object' && value !== null && typeof (value as Intent).run === 'function';
}
