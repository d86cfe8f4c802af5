/**
 * Everything this package relies on from tRPC beyond its documented API, in one place, checked once
 * when a middleware is made. Nothing here writes to tRPC's objects (docs/protocol.md §1c).
 *
 * - Types only from `@trpc/server/unstable-core-do-not-import`: the middleware's function and result
 *   types and the transformer types. At run time tRPC reads only `ok`, `data` and `error` of a result.
 * - The form in which tRPC's input parsers (`.input()`) report a failure: a `BAD_REQUEST` `TRPCError`
 *   whose `cause` is the parser's error and whose message is the cause's. Every tRPC 11 release throws
 *   it so (`createInputMiddleware`); {@link checkTrpcRelease} makes sure the installed one still builds
 *   such an error.
 */
import { createRequire } from 'node:module';
import { TRPCError } from '@trpc/server';
import type {
  CombinedDataTransformer,
  DataTransformerOptions,
  MiddlewareFunction,
  MiddlewareResult,
} from '@trpc/server/unstable-core-do-not-import';

export type { CombinedDataTransformer, DataTransformerOptions, MiddlewareFunction, MiddlewareResult };

/** What a middleware returns; tRPC's type wants its marker, which nothing reads at run time. */
export type AnyResult = MiddlewareResult<any>;
export const RESULT_MARKER = 'middlewareMarker' as AnyResult['marker'];

let checked = false;

/**
 * Fails, with the installed tRPC release and what to do, when that release does not behave as this
 * package relies on. Runs once per process, when the first middleware is made.
 */
export function checkTrpcRelease(): void {
  if (checked) return;
  const version = installedTrpcVersion();
  const problems: string[] = [];
  if (version !== undefined && !/^11\./.test(version)) problems.push('it supports tRPC 11 only');
  const parserError = new Error('probe');
  const wrapped = new TRPCError({ code: 'BAD_REQUEST', cause: parserError });
  if (!isInputValidationFailure(wrapped)) {
    problems.push("tRPC's input-validation errors no longer wrap the parser's error as their cause");
  }
  if (problems.length > 0) {
    throw new Error(
      `@trpc-idempotency/server cannot run with @trpc/server ${version ?? '(version unknown)'}: ${problems.join('; ')}. ` +
        'Install a release of @trpc/server 11 that the peer range of @trpc-idempotency/server names.',
    );
  }
  checked = true;
}

/**
 * Tells whether a call failed in tRPC's input parser rather than in the handler (docs/protocol.md §2):
 * tRPC reports a parser's failure as `new TRPCError({ code: 'BAD_REQUEST', cause })`, so the error's
 * message is its cause's. A handler's own `BAD_REQUEST` with a message of its own is not such a failure.
 */
export function isInputValidationFailure(error: unknown): boolean {
  if (!(error instanceof TRPCError) || error.code !== 'BAD_REQUEST') return false;
  const cause = error.cause;
  return cause instanceof Error && !(cause instanceof TRPCError) && error.message === cause.message;
}

/** The installed `@trpc/server` version, or `undefined` where a bundler hides its package.json. */
export function installedTrpcVersion(): string | undefined {
  try {
    // __filename in the CJS build, import.meta.url in the ESM one: no shim of the bundler's in dist.
    const from = typeof __filename === 'string' ? __filename : import.meta.url;
    const version = createRequire(from)('@trpc/server/package.json').version;
    return typeof version === 'string' ? version : undefined;
  } catch {
    return undefined;
  }
}
