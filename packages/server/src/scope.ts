import { TRPCError } from '@trpc/server';

/** A function of the request context that says whose key it is: a user, tenant or API key id. */
export type ScopeFunction<TContext> = (
  ctx: TContext,
) => string | number | null | undefined | Promise<string | number | null | undefined>;

/**
 * The scope's name for a call (docs/protocol.md §2): `'global'`, or `scope:<value>` of the function's
 * answer. Most scope functions answer at once, and then so does this, without a promise. An empty answer
 * is a caller the server does not know: 401, with `emptyMessage`.
 */
export function resolveScope<TContext>(
  scope: ScopeFunction<TContext> | 'global',
  ctx: TContext,
  emptyMessage: string,
): string | Promise<string> {
  if (scope === 'global') return 'global';
  const value = scope(ctx);
  const name = (answer: string | number | null | undefined) => {
    if (answer === null || answer === undefined || answer === '') {
      throw new TRPCError({ code: 'UNAUTHORIZED', message: emptyMessage });
    }
    return `scope:${answer}`;
  };
  return typeof (value as PromiseLike<unknown> | null | undefined)?.then === 'function'
    ? Promise.resolve(value).then(name)
    : name(value as string | number | null | undefined);
}
