import { type Operation, type OperationResultEnvelope, TRPCClientError, type TRPCLink } from '@trpc/client';
import { type Observable, observable } from '@trpc/server/observable';
import type { AnyRouter, DataTransformerOptions } from '@trpc/server/unstable-core-do-not-import';
import {
  canonicalJson,
  isValidIdempotencyKey,
  MAX_IDEMPOTENCY_KEY_LENGTH,
  withoutAliasing,
  wrapInEnvelope,
} from '@trpc-idempotency/protocol';
import type { AttemptEvent, IdempotencyResultMeta } from '../events.js';
import { deriveIdempotencyKey, randomIdempotencyKey } from '../keys.js';
import { whenOnline } from '../online.js';
import {
  type IdempotencyLinkOptions,
  type ResolvedLinkOptions,
  type ResolvedRetrySettings,
  resolveCallOptions,
  resolveLinkOptions,
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
  onResult?: (meta: IdempotencyResultMeta) => void;
  /**
   * Names the intent among the calls in flight: path, key and canonical serialized input. Two calls
   * with one key share a sequence only when their inputs are equal too; otherwise the second must reach
   * the server on its own and get its PAYLOAD_MISMATCH. Absent when the call is never shared.
   */
  sharingId?: string;
}

/**
 * A tRPC link that gives each mutation one idempotency key and retries it by docs/protocol.md §4: a
 * timeout per attempt, backoff with jitter, `Retry-After`, `IN_PROGRESS` waited out within a budget, and
 * the same key on every attempt. Calls in flight with the same path, key and input share one attempt
 * sequence. Put it before the terminating link, whose `headers` sends `op.context.idempotencyKey` (see
 * `idempotencyHeaders`, which also writes a batch's keys for `httpBatchLink`), or, with `keyIn: 'input'`,
 * before a link without headers per operation such as `wsLink`: the key then travels in the input's
 * envelope (docs/protocol.md §1b). A mutation whose socket closed before its answer came
 * (`TRPCWebSocketClosedError`) is retried with the same key once wsLink has reconnected.
 *
 * @example
 * createTRPCClient<AppRouter>({
 *   links: [
 *     idempotencyLink({ key: 'uuid', onAttempt: (e) => console.log(e.attempt, e.outcome) }),
 *     httpBatchLink({ url, transformer: superjson, headers: idempotencyHeaders }),
 *   ],
 * });
 * createTRPCClient<AppRouter>({
 *   links: [idempotencyLink({ keyIn: 'input' }), wsLink({ client: createWSClient({ url }), transformer: superjson })],
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
          keyCall(config, serialize, op, next).then(
            (call) => {
              if (closed) return;
              const { sharingId } = call;
              const shared = sharingId === undefined ? undefined : inFlight.get(sharingId);
              if (shared) {
                leave = shared.join(observer, op.signal, call.onResult);
                return;
              }
              const span = config.telemetry?.startCall(op.path);
              // Each attempt is wrapped as it leaves, so that the key and the sharing id above saw the input as given.
              const send: typeof next =
                config.keyIn === 'input'
                  ? (attemptOp) => next({ ...attemptOp, input: wrapInEnvelope(call.key, attemptOp.input) })
                  : next;
              const sequence: AttemptSequence = createAttemptSequence({
                op: call.op,
                key: call.key,
                next: send as Parameters<typeof createAttemptSequence>[0]['next'],
                retry: call.retry,
                random: config.random,
                schedule: config.schedule,
                onAttempt: span ? withSpan(span.attempt, config.onAttempt) : config.onAttempt,
                probe: internals.probe,
                online: config.online,
                onSettled: () => {
                  span?.end();
                  if (sharingId !== undefined && inFlight.get(sharingId) === sequence) inFlight.delete(sharingId);
                },
              });
              if (sharingId !== undefined) inFlight.set(sharingId, sequence);
              leave = sequence.join(observer, op.signal, call.onResult);
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

/**
 * Finds the call's key (the caller's, or a new one), its settings and what names it among the calls in
 * flight, and puts the key in a copy of the context.
 */
async function keyCall(
  config: ResolvedLinkOptions,
  serialize: (input: unknown) => unknown,
  op: Operation,
  next: (op: Operation) => Observable<OperationResultEnvelope<unknown, TRPCClientError<AnyRouter>>, unknown>,
): Promise<KeyedCall> {
  const perCall = op.context.idempotency === false ? undefined : op.context.idempotency;
  const { retry, onResult } = resolveCallOptions(config.retry, perCall);
  if (config.keyIn === 'input' && isBinaryOrFormData(op.input)) {
    throw new TypeError(
      `idempotencyLink: keyIn: 'input' cannot wrap the FormData or binary input of "${op.path}"; send its key in a header.`,
    );
  }
  const given = op.context.idempotencyKey as unknown;
  let serialized: { value: unknown } | undefined;
  // The same serialization for the derived key and the sharing id, made once and only when needed.
  const serializedInput = () => {
    serialized ??= { value: withoutAliasing(serialize(op.input) ?? null) };
    return serialized.value;
  };
  let key: string;
  let shareable = config.dedupe;
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
    key = await deriveIdempotencyKey({ user, path: op.path, serializedInput: serializedInput() });
  } else if (config.key === 'server') {
    if (config.online) await whenOnline(config.online, op.signal ?? undefined);
    key = await issueServerKey(next, config.keyProcedure, op);
    shareable = false;
  } else {
    key = randomIdempotencyKey();
    // New by construction: nothing in flight can have it, so the sharing id is not worth computing.
    shareable = false;
  }
  return {
    // A copy: the caller's context object may be reused for another call, which must not inherit this key.
    op: { ...op, context: { ...op.context, idempotencyKey: key } },
    key,
    retry,
    ...(onResult ? { onResult } : {}),
    ...(shareable ? { sharingId: canonicalJson([op.path, key, serializedInput()]) } : {}),
  };
}

/**
 * Asks the server's key-issuing query for one key (the `'server'` strategy, docs/protocol.md §1). The
 * query goes down the rest of the chain like any unkeyed call; it answers `{ key, expiresAt }`.
 */
function issueServerKey(
  next: (op: Operation) => Observable<OperationResultEnvelope<unknown, TRPCClientError<AnyRouter>>, unknown>,
  path: string,
  op: Operation,
): Promise<string> {
  return new Promise((resolve, reject) => {
    let answer: unknown;
    next({
      id: op.id,
      type: 'query',
      path,
      input: undefined,
      context: { idempotency: false },
      signal: op.signal,
    }).subscribe({
      next(envelope) {
        answer = (envelope.result as { data?: unknown } | undefined)?.data;
      },
      error: reject,
      complete() {
        const key = typeof answer === 'object' && answer !== null ? (answer as { key?: unknown }).key : answer;
        if (typeof key === 'string' && isValidIdempotencyKey(key)) resolve(key);
        else reject(new TypeError(`The key-issuing query "${path}" did not answer a valid idempotency key.`));
      },
    });
  });
}

// The inputs tRPC's HTTP links send as they are rather than as JSON: no envelope can hold them.
function isBinaryOrFormData(input: unknown): boolean {
  return (
    (typeof FormData !== 'undefined' && input instanceof FormData) ||
    (typeof Blob !== 'undefined' && input instanceof Blob) ||
    input instanceof Uint8Array
  );
}

function inputSerializer(transformer: DataTransformerOptions | undefined): (input: unknown) => unknown {
  if (!transformer) return (input) => input;
  const input = 'input' in transformer ? transformer.input : transformer;
  return (value) => input.serialize(value);
}

/** Reports each attempt to the call's span, then to the app's own hook. */
function withSpan(
  toSpan: (event: AttemptEvent) => void,
  onAttempt: ((event: AttemptEvent) => void) | undefined,
): (event: AttemptEvent) => void {
  return (event) => {
    toSpan(event);
    onAttempt?.(event);
  };
}

function toError(cause: unknown): Error {
  return cause instanceof Error ? cause : new Error(String(cause));
}
