import { type CombinedDataTransformer, defaultTransformer } from '@trpc/server/unstable-core-do-not-import';

/** The part of tRPC's root config (`initTRPC.create()`) that its response serializer reads on every answer. */
export interface RootConfig {
  transformer?: CombinedDataTransformer;
}

/** The part of a procedure's `_def` that tells what runs outside a middleware. */
export interface ProcedureSteps {
  config?: RootConfig;
  middlewares?: unknown[];
}

/**
 * Answers of this turn whose data the middleware has already serialized to store it, for tRPC's
 * response serializer to take instead of walking the same value again.
 */
export class AnswerCache {
  readonly #made = new Map<object, unknown>();
  #clearing = false;

  /**
   * Offers the serialized form of `value`, just before the middleware returns it. tRPC serializes the
   * answer in the microtasks that follow; what it has not taken by the end of this turn is dropped, so an
   * entry can never answer for a value changed later.
   */
  offer(value: unknown, serialized: unknown): void {
    if (typeof value !== 'object' || value === null || serialized === undefined) return;
    this.#made.set(value, serialized);
    if (this.#clearing) return;
    this.#clearing = true;
    setImmediate(() => {
      this.#made.clear();
      this.#clearing = false;
    });
  }

  /** The serialized form offered for this very object in this turn, once; `undefined` otherwise. */
  take(value: unknown): unknown {
    if (typeof value !== 'object' || value === null || this.#made.size === 0) return undefined;
    const serialized = this.#made.get(value);
    if (serialized !== undefined) this.#made.delete(value);
    return serialized;
  }
}

interface Shared {
  /** The router's transformer as the app gave it. */
  original: CombinedDataTransformer;
  answers: AnswerCache;
}

const sharedByConfig = new WeakMap<RootConfig, Shared>();

/**
 * The router's transformer as the app gave it, also after {@link answerCacheFor} has put its cache in
 * front of it in tRPC's config.
 */
export function appTransformer(config: RootConfig | undefined): CombinedDataTransformer | undefined {
  if (!config) return undefined;
  return sharedByConfig.get(config)?.original ?? config.transformer;
}

// tRPC's own input validator (`.input()`) returns the result of the rest of the chain unchanged.
const PASSES_RESULT_THROUGH = new Set(['inputValidatorMiddleware']);

/**
 * A fresh outcome is serialized twice with the same transformer: by the middleware to store it, then by
 * tRPC for the answer, a second walk of the same value (superjson's walk allocates arrays and objects per
 * property). When nothing but tRPC's input validators stands outside `middleware` in this procedure,
 * this returns the cache that tRPC's response serializer then reads first (put in front of it in the root
 * config, once per `initTRPC.create()`): the answer is the value stored, serialized once, and the first
 * answer equals every replay. With any other middleware outside, it returns `undefined`: an outer
 * middleware may change the result in place, and that change must reach the answer as before. So it
 * does when the app stores with its own `serializer` option rather than the router's transformer.
 */
export function answerCacheFor(steps: ProcedureSteps, middleware: unknown): AnswerCache | undefined {
  const config = steps.config;
  const chain = steps.middlewares;
  // tRPC's default transformer writes a value as it is: there is no second walk to save, and its config is left as tRPC made it.
  if (!config?.transformer || config.transformer === defaultTransformer || !Array.isArray(chain)) return undefined;
  const position = chain.indexOf(middleware);
  if (position < 0) return undefined;
  for (let index = 0; index < position; index++) {
    const outer = chain[index] as { name?: unknown } | undefined;
    if (typeof outer?.name !== 'string' || !PASSES_RESULT_THROUGH.has(outer.name)) return undefined;
  }
  let shared = sharedByConfig.get(config);
  if (!shared) {
    const original = config.transformer;
    const answers = new AnswerCache();
    const output = original.output;
    config.transformer = {
      input: original.input,
      output: {
        serialize: (value) => {
          const serialized = answers.take(value);
          return serialized === undefined ? output.serialize(value) : serialized;
        },
        deserialize: (value) => output.deserialize(value),
      },
    };
    shared = { original, answers };
    sharedByConfig.set(config, shared);
  }
  return shared.answers;
}
