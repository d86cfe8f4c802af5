import { TRPCClientError, type TRPCProcedureOptions } from '@trpc/client';
import type { IdempotencyResultMeta } from './events.js';
import type { RetrySettings } from './options.js';

/** A mutation of a typed tRPC client, such as `client.orders.create`. */
export interface MutationProcedure {
  mutate(input: any, opts?: TRPCProcedureOptions): Promise<unknown>;
}

/** Options of {@link mutateWithMeta}: the call's key, its abort signal and its retry settings. */
export interface MutateWithMetaOptions extends RetrySettings {
  /** The intent's key, for example from `createIntent()`. Without it the client makes one. */
  idempotencyKey?: string;
  /** Aborts the call: no further attempt is sent. */
  signal?: AbortSignal;
  /** More context for your own links. `idempotencyKey` and `idempotency` are set from the options above. */
  context?: Record<string, unknown>;
}

/** What {@link mutateWithMeta} resolves to: the mutation's output and how the call went. */
export interface MutationWithMeta<TOutput> extends IdempotencyResultMeta {
  data: TOutput;
}

/**
 * Runs a mutation through the idempotent client and tells, typed, whether the server replayed a stored
 * outcome. tRPC types the `context` of `mutate()` as a plain record, so `context.idempotency.onResult`
 * is not checked at the call site; this helper is. The output type comes from the procedure.
 *
 * It rejects with a `TRPCClientError` (whose cause is a `TypeError`) if the mutation did not pass
 * through `idempotencyLink`, for example one its `filter` leaves out; the mutation has then been sent.
 *
 * @example
 * const { data: order, replayed } = await mutateWithMeta(client.orders.create, cart, { idempotencyKey });
 * if (replayed) showInfo('This order was already placed; here it is.');
 */
export async function mutateWithMeta<TProcedure extends MutationProcedure>(
  procedure: TProcedure,
  input: Parameters<TProcedure['mutate']>[0],
  options: MutateWithMetaOptions = {},
): Promise<MutationWithMeta<Awaited<ReturnType<TProcedure['mutate']>>>> {
  if (typeof options !== 'object' || options === null) {
    throw TRPCClientError.from(new TypeError('mutateWithMeta(procedure, input, options): options must be an object.'));
  }
  const { idempotencyKey, signal, context, ...retry } = options;
  let meta: IdempotencyResultMeta | undefined;
  const data = await procedure.mutate(input, {
    ...(signal ? { signal } : {}),
    context: {
      ...context,
      ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
      idempotency: {
        ...retry,
        onResult: (result: IdempotencyResultMeta) => {
          meta = result;
        },
      },
    },
  });
  if (!meta) {
    throw TRPCClientError.from(
      new TypeError('mutateWithMeta: the mutation did not pass through idempotencyLink, so there is no result meta.'),
    );
  }
  return { ...meta, data: data as Awaited<ReturnType<TProcedure['mutate']>> };
}
