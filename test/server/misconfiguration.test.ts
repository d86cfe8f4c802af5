import type { AddressInfo } from 'node:net';
import { initTRPC, TRPCError } from '@trpc/server';
import { createHTTPServer } from '@trpc/server/adapters/standalone';
import { createIdempotency, idempotencyErrorFormatter, MemoryStore } from '@trpc-idempotency/server';
import superjson from 'superjson';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { isInputValidationFailure } from '../../packages/server/src/trpcInternals.js';
import { newKey } from '../support/backends.js';

// docs/protocol.md §1b, §1c: a server that is not wired up says what to add, with a 400 and not a 500, and in
// production no answer carries a stack.
describe('a server whose context has no idempotency helper, in production mode', () => {
  let url: string;
  let close: () => Promise<void>;
  let runs = 0;

  beforeAll(async () => {
    // No nodeIdempotencyContext in createContext: the app forgot it. isDev: false is what NODE_ENV=production gives.
    const t = initTRPC.context<{ user: string }>().create({
      transformer: superjson,
      errorFormatter: idempotencyErrorFormatter,
      isDev: false,
    });
    // The types ask for ctx.idempotencyRequest; an app that forgot the helper got past them (a cast, plain JS).
    const idempotency = createIdempotency({
      store: new MemoryStore(),
      scope: (ctx: { user: string }) => ctx.user,
      serializer: superjson,
    } as never) as never;
    const optional = createIdempotency({
      store: new MemoryStore(),
      scope: (ctx: { user: string }) => ctx.user,
      serializer: superjson,
      required: false,
    } as never) as never;
    const router = t.router({
      pay: t.procedure
        .use(idempotency)
        .input(z.object({ cents: z.number() }))
        .mutation(() => ++runs),
      payIfKeyed: t.procedure
        .use(optional)
        .input(z.object({ cents: z.number() }))
        .mutation(({ ctx }) => ({
          run: ++runs,
          keyed: (ctx as unknown as { idempotency: unknown }).idempotency !== null,
        })),
      crash: t.procedure.mutation(() => {
        throw new Error('db down');
      }),
    });
    const server = createHTTPServer({ router, createContext: () => ({ user: 'ann' }) });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    close = () => new Promise((resolve) => server.close(() => resolve()));
  });
  afterAll(() => close());

  const post = async (path: string, input: unknown, headers: Record<string, string> = {}) => {
    const response = await fetch(`${url}/${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(superjson.serialize(input)),
    });
    return { status: response.status, text: await response.text() };
  };

  it('answers a keyed mutation 400 KEY_MISSING, naming the helper to add, and runs nothing', async () => {
    const answer = await post('pay', { cents: 1 }, { 'idempotency-key': newKey() });
    expect(answer.status).toBe(400);
    const body = JSON.parse(answer.text);
    expect(body.error.json.data.idempotency.code).toBe('KEY_MISSING');
    expect(body.error.json.message).toMatch(/spread nodeIdempotencyContext\(opts\) or fetchIdempotencyContext\(opts\)/);
    expect(body.error.json.message).toMatch(/callerIdempotencyContext\(key\)/);
    expect(runs).toBe(0);
  });

  it('runs a procedure that does not require a key, with ctx.idempotency null', async () => {
    const answer = await post('payIfKeyed', { cents: 1 });
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.text).result.data.json).toEqual({ run: 1, keyed: false });
  });

  it('puts no stack in any error body', async () => {
    const answers = [
      await post('pay', { cents: 1 }, { 'idempotency-key': newKey() }),
      await post('pay', { cents: 'one' }, { 'idempotency-key': newKey() }),
      await post('crash', {}),
    ];
    expect(answers.map((answer) => answer.status)).toEqual([400, 400, 500]);
    for (const answer of answers) {
      expect(answer.text).not.toMatch(/"stack"/);
      expect(answer.text).not.toMatch(/\n\s+at |node_modules|misconfiguration\.test/);
    }
  });
});

describe('isInputValidationFailure', () => {
  const parserError = Object.assign(new Error('Expected number, received string'), { issues: [] });
  it.each([
    ['what tRPC’s input parser throws', new TRPCError({ code: 'BAD_REQUEST', cause: parserError }), true],
    [
      'a handler’s BAD_REQUEST with its own message',
      new TRPCError({ code: 'BAD_REQUEST', message: 'declined' }),
      false,
    ],
    [
      'a handler’s BAD_REQUEST with a message and a cause',
      new TRPCError({ code: 'BAD_REQUEST', message: 'declined', cause: parserError }),
      false,
    ],
    ['another code around a parser error', new TRPCError({ code: 'FORBIDDEN', cause: parserError }), false],
    [
      'a BAD_REQUEST around another TRPCError',
      new TRPCError({ code: 'BAD_REQUEST', cause: new TRPCError({ code: 'BAD_REQUEST', message: 'x' }) }),
      false,
    ],
    ['a plain error', new Error('Expected number'), false],
    ['nothing', undefined, false],
  ])('%s: %s', (_name, error, expected) => {
    expect(isInputValidationFailure(error)).toBe(expected);
  });
});
