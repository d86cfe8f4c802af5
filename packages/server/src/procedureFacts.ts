import type { CombinedDataTransformer } from '@trpc/server/unstable-core-do-not-import';
import type { IdempotencyRequest } from './requestContext.js';
import { type AnswerCache, answerCacheFor, appTransformer, type ProcedureSteps } from './sharedOutput.js';

/** What the middleware needs to know about the procedure a call runs. */
export interface ProcedureFacts {
  /** The router's transformer, from `initTRPC.create({ transformer })`; tRPC's identity one when none was given. */
  transformer: CombinedDataTransformer | undefined;
  /** Runs `onStart` when tRPC calls the resolver, for calls whose `ctx.idempotency` is `handle`. */
  watchHandlerStart(handle: object, onStart: () => void): void;
  /** Where tRPC's answer takes the output `middleware` stored, if nothing outside it can change the result. */
  answerCache(middleware: unknown): AnswerCache | undefined;
}

type ProcedureDef = ProcedureSteps;

type ResolveStep = (opts: { ctx?: { idempotency?: unknown } }) => unknown;

const factsByDef = new WeakMap<object, ProcedureFacts>();
const startListeners = new WeakMap<object, () => void>();

/**
 * The facts of the procedure at `batchIndex`, found through `info.calls`, which tRPC hands to
 * `createContext` and the context helpers keep. `undefined` when the context carries no calls.
 */
export function procedureFacts(request: IdempotencyRequest, batchIndex: number): ProcedureFacts | undefined {
  const procedure = request.calls?.[batchIndex]?.procedure as { _def?: ProcedureDef } | null | undefined;
  const def = procedure?._def;
  if (!def) return undefined;
  let facts = factsByDef.get(def);
  if (!facts) {
    facts = {
      transformer: appTransformer(def.config),
      watchHandlerStart: watchResolver(def),
      answerCache: answerCacheOnce(def),
    };
    factsByDef.set(def, facts);
  }
  return facts;
}

/** Decides once per middleware of the procedure (there is nearly always one). */
function answerCacheOnce(def: ProcedureDef): ProcedureFacts['answerCache'] {
  const decided = new Map<unknown, AnswerCache | undefined>();
  return (middleware) => {
    if (decided.has(middleware)) return decided.get(middleware);
    const cache = answerCacheFor(def, middleware);
    decided.set(middleware, cache);
    return cache;
  };
}

/**
 * tRPC runs a procedure as a chain of middlewares whose last step calls the resolver; input parsers
 * and later middlewares come before it. A middleware placed before `.input()` cannot otherwise tell
 * an input that failed validation from an error the handler threw, and only the second may be stored
 * (docs/protocol.md §2). So the last step is wrapped, once per procedure, to report that the resolver
 * started for the call whose `ctx.idempotency` is a registered handle.
 */
function watchResolver(def: ProcedureDef): ProcedureFacts['watchHandlerStart'] {
  const steps = def.middlewares;
  const last = Array.isArray(steps) ? steps.length - 1 : -1;
  const resolve = last >= 0 ? (steps![last] as ResolveStep) : undefined;
  if (typeof resolve !== 'function') {
    // No resolver step to watch: every call counts as begun, so its 4xx is stored as before.
    return (_handle, onStart) => onStart();
  }
  steps![last] = function resolveWithStartReport(opts: Parameters<ResolveStep>[0]) {
    const handle = opts?.ctx?.idempotency;
    if (typeof handle === 'object' && handle !== null) startListeners.get(handle)?.();
    return resolve(opts);
  };
  return (handle, onStart) => {
    startListeners.set(handle, onStart);
  };
}
