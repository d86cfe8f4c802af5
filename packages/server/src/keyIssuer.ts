import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { KeyInvalidReason } from '@trpc-idempotency/protocol';
import { checkOptions, type OptionRules, required, wholeNumber } from '@trpc-idempotency/protocol';
import { IdempotencyError } from './errors.js';
import { resolveScope, type ScopeFunction } from './scope.js';

/** Options of {@link createKeyIssuer}. */
export interface KeyIssuerOptions<TContext> {
  /**
   * The HMAC-SHA256 secret that signs every issued key: at least 32 bytes (a string of 32 or more
   * characters, or a Uint8Array). Keep it out of the code, like a session secret.
   */
  secret: string | Uint8Array;
  /**
   * Whose key it is, as in `createIdempotency`: a key issued to one scope is refused for every other.
   * Use the same function as the middleware's `scope`.
   */
  scope: ScopeFunction<TContext> | 'global';
  /** How long an issued key is accepted, in ms. Default 24 h; at least 1 s. */
  ttlMs?: number;
}

/** What the key-issuing procedure answers. */
export interface IssuedKey {
  /** The key: send it as `Idempotency-Key` on every attempt of one intent. */
  key: string;
  /** When the server stops accepting it (ms since the epoch). */
  expiresAt: number;
}

/** How an issued key checked out. */
export type IssuedKeyVerdict = { ok: true } | { ok: false; reason: KeyInvalidReason; message: string };

/** Issues keys for a scope and verifies them without storing anything. */
export interface KeyIssuer<TContext> {
  /**
   * A tRPC resolver that issues a new key for the caller's scope: `t.procedure.query(issuer.issue)`.
   * A query, so that a client that keys every mutation never asks for a key to ask for a key.
   */
  issue(opts: { ctx: TContext }): Promise<IssuedKey>;
  /** Checks that `key` was issued by this server for the scope of `ctx` and has not expired. */
  verify(key: string, ctx: TContext): Promise<IssuedKeyVerdict>;
}

const VERSION = 'ik1';
const DEFAULT_TTL_MS = 24 * 60 * 60 * 1000;
const NONCE_BYTES = 16;
// `ik1.<expiry, base 36>.<nonce, base64url>.<HMAC-SHA256, base64url>`: 75 visible ASCII characters or so.
const TOKEN = /^ik1\.([0-9a-z]{1,11})\.([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/;

const SECRET_RULE = 'must be a string or Uint8Array of at least 32 bytes';
const KEY_ISSUER_RULES: OptionRules<KeyIssuerOptions<unknown>> = {
  secret: required((value) => {
    const bytes =
      typeof value === 'string' ? Buffer.byteLength(value, 'utf8') : value instanceof Uint8Array ? value.byteLength : 0;
    return bytes >= 32 ? undefined : SECRET_RULE;
  }, SECRET_RULE),
  scope: required(
    (value) =>
      value === 'global' || typeof value === 'function' ? undefined : "must be a function of the context, or 'global'",
    "must be a function of the context, or 'global'",
  ),
  ttlMs: wholeNumber({ min: 1000, unit: 'ms' }),
};

/**
 * Makes the third source of keys (docs/protocol.md §1): keys the server issues per scope, random, with an
 * expiry, signed with an HMAC secret so that the server verifies them without storing them. Add
 * `issue` as a query to the router, and pass the issuer to `createIdempotency({ issuedKeys })` so that
 * only keys issued for the caller's scope are accepted.
 *
 * @example
 * const keys = createKeyIssuer({ secret: process.env.KEY_SECRET!, scope: (ctx: Context) => ctx.userId });
 * const idempotentProcedure = t.procedure.use(createIdempotency({ store, scope: (ctx: Context) => ctx.userId, issuedKeys: keys }));
 * const router = t.router({ idempotencyKey: t.procedure.query(keys.issue), pay: idempotentProcedure.mutation(...) });
 */
export function createKeyIssuer<TContext>(options: KeyIssuerOptions<TContext>): KeyIssuer<TContext> {
  checkOptions('createKeyIssuer', options, KEY_ISSUER_RULES as OptionRules<KeyIssuerOptions<TContext>>);
  const secret = typeof options.secret === 'string' ? Buffer.from(options.secret, 'utf8') : options.secret;
  const { scope } = options;
  const ttlMs = options.ttlMs ?? DEFAULT_TTL_MS;
  // A copy, so that a caller who reuses its buffer cannot change the secret afterwards.
  const key = Buffer.from(secret);
  const sign = (scopeName: string, expiry: string, nonce: string) =>
    createHmac('sha256', key).update(`${VERSION}\n${scopeName}\n${expiry}\n${nonce}`).digest('base64url');

  const scopeOf = (ctx: TContext) => resolveScope(scope, ctx, 'An idempotency key is issued only to a known caller.');

  return {
    async issue({ ctx }) {
      const scopeName = await scopeOf(ctx);
      const expiresAt = Date.now() + ttlMs;
      const expiry = expiresAt.toString(36);
      const nonce = randomBytes(NONCE_BYTES).toString('base64url');
      return { key: `${VERSION}.${expiry}.${nonce}.${sign(scopeName, expiry, nonce)}`, expiresAt };
    },
    async verify(candidate, ctx) {
      const parts = TOKEN.exec(candidate);
      if (!parts) return refuse('not_issued', 'This idempotency key was not issued by this server.');
      const [, expiry = '', nonce = '', mac = ''] = parts;
      // The signature is compared as the text it was issued as, not as decoded bytes: base64url's last
      // character carries 2 unused bits, so four spellings decode alike, and each spelling would be
      // another key, so another record, for one issued key.
      const expected = Buffer.from(sign(await scopeOf(ctx), expiry, nonce), 'latin1');
      const given = Buffer.from(mac, 'latin1');
      // Another scope's key fails here too: the scope is part of what was signed.
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        return refuse('signature', 'This idempotency key was not issued to this caller.');
      }
      if (Number.parseInt(expiry, 36) <= Date.now()) {
        return refuse('expired', 'This idempotency key has expired; ask for a new one.');
      }
      return { ok: true };
    },
  };
}

function refuse(reason: KeyInvalidReason, message: string): IssuedKeyVerdict {
  return { ok: false, reason, message };
}

/** Throws 400 `KEY_INVALID` with its reason unless `issuer` issued `key` for the caller's scope. */
export async function requireIssuedKey<TContext>(issuer: KeyIssuer<TContext>, key: string, ctx: TContext) {
  const verdict = await issuer.verify(key, ctx);
  if (!verdict.ok) throw new IdempotencyError('KEY_INVALID', verdict.message, { reason: verdict.reason });
}
