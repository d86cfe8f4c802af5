import { type Operation, type OperationResultEnvelope, TRPCClientError, type TRPCLink } from '@trpc/client';
import { observable } from '@trpc/server/observable';
import type { AnyRouter, DataTransformerOptions } from '@trpc/server/unstable-core-do-not-import';
import { isValidIdempotencyKey, MAX_IDEMPOTENCY_KEY_LENGTH } from '@trpc-idempotency/protocol';
import { deriveIdempotencyKey, randomIdempotencyKey } from '../keys.js';
import {
  type IdempotencyLinkOptions,
  type ResolvedLinkOptions,
  type ResolvedRetrySettings,
  resolveLinkOptions,
  resolveRetrySettings,
} from '../options.js';
import type { ResponseProbe } from '../responseProbe.js';
import { type AttemptSequence, createAttemptSequence } from './attemptSequence.js';

/** Parts that `createIdempotentClient` hands to the link and that are not public options. */
export interface IdempotencyLinkInternals {
  probe?: ResponseProbe;
}

interface KeyedCall {
  op: Operation;
  key: string;
  retry: ResolvedRetrySettings;
  /** Only derived keys are shared: they are a hash of the input, so equal keys mean equal calls. */
  shareable: boolean;
}

/**
 * A tRPC link that gives each mutation one idempotency key and retries it by PROTOCOL.md §4: a timeout
 * per attempt, backoff with jitter, `Retry-After`, and the same key on every attempt. Put it before the
 * terminating link, whose `headers` sends `op.context.idempotencyKey` (see `idempotencyHeaders`).
 *
 * @example
 * createTRPCClient<AppRouter>({
 *   links: [
 *     idempotencyLink({ key: 'uuid', onAttempt: (e) => console.log(e.attempt, e.outcome) }),
 *     httpLink({ url, transformer: superjson, headers: ({ op }) => idempotencyHeaders(op) }),
 *   ],
 * });
 */
export function idempotencyLink<TRouter extends AnyRouter = AnyRouter>(
  options?: IdempotencyLinkOptions,
): TRPCLink<TRouter> {
  return createIdempotencyLink<TRouter>(options, {});
}

/** {@link idempotencyLink} with the parts `createIdempotentClient` shares with its own fetch. */
export function createIdempotencyLink<TRouter extends AnyRouter>(
  options: IdempotencyLinkOptions | undefined,
  internals: IdempotencyLinkInternals,
): TRPCLink<TRouter> {
  // Options: checked once, when the link is built.
  const config = resolveLinkOptions(options);
  const serialize = inputSerializer(config.transformer);
  return () => {
    // Runtime: one per client, so in-flight sharing never crosses clients.
    const inFlight = new Map<string, AttemptSequence>();
    return ({ op, next }) => {
      // Operation.
      if (op.type !== 'mutation' || op.context.idempotency === false || !config.filter(op)) return next(op);
      return observable<OperationResultEnvelope<unknown, TRPCClientError<TRouter>>, TRPCClientError<TRouter>>(
        (observer) => {
          let closed = false;
          let leave: (() => void) | undefined;
          keyCall(config, serialize, op).then(
            (call) => {
              if (closed) return;
              const shared = call.shareable ? inFlight.get(call.key) : undefined;
              if (shared) {
                leave = shared.join(observer, op.signal);
                return;
              }
              const sequence: AttemptSequence = createAttemptSequence({
                op: call.op,
                key: call.key,
                next: next as Parameters<typeof createAttemptSequence>[0]['next'],
                retry: call.retry,
                random: config.random,
                schedule: config.schedule,
                onAttempt: config.onAttempt,
                probe: internals.probe,
                onSettled: () => {
                  if (inFlight.get(call.key) === sequence) inFlight.delete(call.key);
                },
              });
              if (call.shareable) inFlight.set(call.key, sequence);
              leave = sequence.join(observer, op.signal);
              sequence.start();
            },
            (cause: unknown) => {
              if (!closed) observer.error(TRPCClientError.from(toError(cause)));
            },
          );
          return () => {
            closed = true;
            leave?.();
          };
        },
      );
    };
  };
}

/** Finds the call's key (the caller's, or a new one) and its retry settings, and puts the key in a copy of the context. */
async function keyCall(
  config: ResolvedLinkOptions,
  serialize: (input: unknown) => unknown,
  op: Operation,
): Promise<KeyedCall> {
  const perCall = op.context.idempotency === false ? undefined : op.context.idempotency;
  const retry = resolveRetrySettings(config.retry, perCall, 'context.idempotency:');
  const given = op.context.idempotencyKey as unknown;
  let key: string;
  let shareable = false;
  if (given !== undefined) {
    if (typeof given !== 'string' || !isValidIdempotencyKey(given)) {
      throw new TypeError(
        `context.idempotencyKey must be a string of 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} visible ASCII characters.`,
      );
    }
    key = given;
  } else if (config.key === 'derive') {
    const user = typeof config.user === 'function' ? await config.user(op) : config.user;
    if (typeof user !== 'string' || user === '') {
      throw new TypeError(`idempotencyLink: option "user" gave no user for key: 'derive' (got ${String(user)}).`);
    }
    key = await deriveIdempotencyKey({ user, path: op.path, serializedInput: serialize(op.input) });
    shareable = config.dedupe;
  } else {
    key = randomIdempotencyKey();
  }
  // A copy: the caller's context object may be reused for another call, which must not inherit this key.
  return { op: { ...op, context: { ...op.context, idempotencyKey: key } }, key, retry, shareable };
}

function inputSerializer(transformer: DataTransformerOptions | undefined): (input: unknown) => unknown {
  if (!transformer) return (input) => input;
  const input = 'input' in transformer ? transformer.input : transformer;
  return (value) => input.serialize(value);
}

function toError(cause: unknown): Error {
  return cause instanceof Error ? cause : new Error(String(cause));
}
