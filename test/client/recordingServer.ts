import { EventEmitter } from 'node:events';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { initTRPC, TRPCError } from '@trpc/server';
import { createHTTPServer } from '@trpc/server/adapters/standalone';
import { getWSConnectionHandler } from '@trpc/server/adapters/ws';
import { readEnvelope } from '@trpc-idempotency/protocol';
import superjson from 'superjson';
import { z } from 'zod';

/**
 * A plain tRPC server, without the server SDK, whose one middleware records what each call brought: the
 * key headers of its request, its batch index and its raw input. An envelope in the input is taken off
 * before the input parser, as the server SDK does, so that the procedures see the input as given. The
 * client tests check what the client sends with it; what the server SDK makes of it is tested elsewhere.
 */

/** One call as it reached the server. */
export interface Arrival {
  /** Which HTTP request (or WebSocket connection) it came in, counted from 1. */
  request: number;
  path: string;
  type: string;
  batchIndex: number;
  keyHeader: string | undefined;
  batchKeysHeader: string | undefined;
  /** The request's `Prefer` header (RFC 7240), as it arrived. */
  preferHeader: string | undefined;
  rawInput: unknown;
  /** The key of the envelope, when the input had one. */
  envelopeKey: unknown;
}

interface Context {
  request: number;
  headers: IncomingHttpHeaders;
}

const header = (headers: IncomingHttpHeaders, name: string) => {
  const value = headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
};

export function createRecordingRouter() {
  const arrivals: Arrival[] = [];
  /** Runs of `orders.create` per item, so that only an item's first run sleeps `firstSleepMs`. */
  const runsByItem = new Map<string, number>();
  /**
   * `afterRun` is called when `orders.create` has run, before its answer goes out. `refuse` may answer a
   * call with an error instead of running it: an {@link idempotencyRefusal} for the server SDK's own.
   */
  const hooks: { afterRun?: (arrival: Arrival) => void; refuse?: (arrival: Arrival) => TRPCError | undefined } = {};
  const t = initTRPC.context<Context>().create({
    transformer: superjson,
    // As the server SDK's formatter does: error.data.idempotency tells its own errors from the app's.
    errorFormatter: ({ shape, error }) => ({
      ...shape,
      data: { ...shape.data, idempotency: (error.cause as { idempotency?: unknown } | undefined)?.idempotency ?? null },
    }),
  });

  const recorded = t.procedure.use(async (opts) => {
    const rawInput = await opts.getRawInput();
    const envelope = readEnvelope(rawInput);
    const arrival: Arrival = {
      request: opts.ctx.request,
      path: opts.path,
      type: opts.type,
      batchIndex: opts.batchIndex,
      keyHeader: header(opts.ctx.headers, 'idempotency-key'),
      batchKeysHeader: header(opts.ctx.headers, 'idempotency-batch-keys'),
      preferHeader: header(opts.ctx.headers, 'prefer'),
      rawInput,
      envelopeKey: envelope?.key,
    };
    arrivals.push(arrival);
    const refusal = hooks.refuse?.(arrival);
    if (refusal) throw refusal;
    const result = envelope ? await opts.next({ getRawInput: async () => envelope.input }) : await opts.next();
    if (opts.path === 'orders.create') hooks.afterRun?.(arrival);
    return result;
  });

  const router = t.router({
    orders: t.router({
      create: recorded
        .input(z.object({ item: z.string(), at: z.date().optional(), firstSleepMs: z.number().optional() }))
        .mutation(async ({ input }) => {
          const run = (runsByItem.get(input.item) ?? 0) + 1;
          runsByItem.set(input.item, run);
          if (run === 1 && input.firstSleepMs) await new Promise((resolve) => setTimeout(resolve, input.firstSleepMs));
          return { item: input.item, at: input.at, run };
        }),
      list: recorded.query(() => ['book']),
    }),
    ping: recorded.mutation(() => 'pong'),
  });
  return { router, arrivals, hooks };
}

/** An error of the server SDK's own, such as 409 `IN_PROGRESS`, for `hooks.refuse` to answer with. */
export function idempotencyRefusal(
  code: 'CONFLICT' | 'SERVICE_UNAVAILABLE',
  idempotency: { code: string; retryAfterMs?: number },
): TRPCError {
  return new TRPCError({
    code,
    message: idempotency.code,
    cause: Object.assign(new Error(idempotency.code), { idempotency }),
  });
}

export type RecordingRouter = ReturnType<typeof createRecordingRouter>['router'];

/** The recording router over HTTP (tRPC's standalone adapter). */
export async function startRecordingServer() {
  const { router, arrivals, hooks } = createRecordingRouter();
  let requests = 0;
  const server = createHTTPServer({
    router,
    createContext: ({ req }) => {
      requests += 1;
      return { request: requests, headers: req.headers };
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    arrivals,
    hooks,
    requests: () => requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * The recording router behind tRPC's real WebSocket handler, reached through an in-memory socket pair:
 * `WebSocket` is the browser-style class to give `createWSClient`, and `drop()` closes the open
 * connection at once, as a lost network would, without a closing handshake.
 */
export function startRecordingSocketServer() {
  const { router, arrivals, hooks } = createRecordingRouter();
  let connections = 0;
  const handle = getWSConnectionHandler({
    // Typed as required, read only by applyWSSHandler: a connection handler needs no server.
    wss: undefined as never,
    router,
    createContext: () => ({ request: connections, headers: {} }),
  });
  let open: FakeClientSocket | undefined;

  class ServerSide extends EventEmitter {
    readyState = 1;
    constructor(private readonly peer: FakeClientSocket) {
      super();
    }
    send(data: string) {
      if (this.readyState !== 1) return;
      setImmediate(() => this.peer.receive(data));
    }
    close() {
      this.peer.drop();
    }
    terminate() {
      this.peer.drop();
    }
  }

  class FakeClientSocket extends EventTarget {
    static readonly CONNECTING = 0;
    static readonly OPEN = 1;
    static readonly CLOSING = 2;
    static readonly CLOSED = 3;
    readonly CONNECTING = 0;
    readonly OPEN = 1;
    readonly CLOSING = 2;
    readonly CLOSED = 3;
    readyState = 0;
    binaryType = 'blob';
    private server: ServerSide | undefined;

    constructor(readonly url: string) {
      super();
      setImmediate(() => {
        connections += 1;
        this.server = new ServerSide(this);
        this.readyState = 1;
        open = this;
        handle(this.server as never, { url: '/', headers: { host: 'localhost' } } as IncomingMessage);
        this.dispatchEvent(new Event('open'));
      });
    }
    send(data: string) {
      const server = this.server;
      if (this.readyState !== 1 || !server) throw new Error('not open');
      setImmediate(() => server.emit('message', Buffer.from(data), false));
    }
    receive(data: string) {
      if (this.readyState !== 1) return;
      this.dispatchEvent(Object.assign(new Event('message'), { data }));
    }
    close() {
      this.drop();
    }
    /** Both ends see the connection gone; nothing in transit arrives any more. */
    drop() {
      if (this.readyState === 3) return;
      this.readyState = 3;
      if (open === this) open = undefined;
      if (this.server) {
        this.server.readyState = 3;
        this.server.emit('close');
      }
      this.dispatchEvent(Object.assign(new Event('close'), { code: 1006 }));
    }
  }

  return {
    WebSocket: FakeClientSocket as unknown as typeof WebSocket,
    arrivals,
    hooks,
    connections: () => connections,
    drop: () => open?.drop(),
  };
}
