import { EventEmitter } from 'node:events';
import http, { type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import superjson from 'superjson';

/**
 * What the proxy does to one request. The faults are ones a real network or gateway produces and a real
 * tRPC server cannot be made to: a response lost after the server committed, a gateway's 503 or 429, a
 * slow link.
 */
export type Fault =
  /** Forward and answer normally. */
  | { kind: 'pass' }
  /** Forward, let the server finish and commit, then reset the client's connection: the response is lost. */
  | { kind: 'reset-after-forward' }
  /** Answer without forwarding, as a gateway in front of the app would. */
  | { kind: 'answer'; status: number; headers?: Record<string, string>; body?: string }
  /** Forward at once, then hold the server's response for `ms` before sending it. */
  | { kind: 'delay-response'; ms: number };

/** One request the proxy saw. */
export interface SeenRequest {
  method: string;
  url: string;
  /** The `Idempotency-Key` header, if any. */
  key: string | undefined;
  /** True when the URL asks for a tRPC batch (`batch=1`). */
  batched: boolean;
  /** The procedure paths in the URL (several for a batch). */
  paths: string[];
  fault: Fault['kind'];
  /** What became of the answer: sent, reset by the fault, or the client went away first. */
  end?: 'sent' | 'reset' | 'client-gone';
}

/** A fault-injecting HTTP proxy in front of a test app. */
export interface FaultProxy {
  url: string;
  /** Every request, in arrival order. */
  requests: SeenRequest[];
  /** Faults for the next keyed requests (those with an `Idempotency-Key`), used in order; then `pass`. */
  plan(...faults: Fault[]): void;
  /** Emits `request` (SeenRequest) on arrival and `done` (SeenRequest) when the proxy has finished with it. */
  events: EventEmitter;
  /** Resolves when `count` requests have arrived. */
  waitForRequests(count: number): Promise<void>;
  /** Resolves when `count` requests are finished (answered, reset, or dropped by the client). */
  waitForDone(count: number): Promise<void>;
  close(): Promise<void>;
}

/** The body a tRPC server sends for an error, serialized with superjson like the test app's. */
export function trpcErrorBody(status: number, code: string, message = `${code} from the gateway`): string {
  return JSON.stringify({ error: superjson.serialize({ message, code: -32603, data: { code, httpStatus: status } }) });
}

/** Starts a proxy to `target` (an http://host:port URL) on a free port. */
export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const upstream = new URL(target);
  const requests: SeenRequest[] = [];
  const queue: Fault[] = [];
  const events = new EventEmitter();
  let done = 0;

  const server = http.createServer(async (req, res) => {
    const body = await readBody(req);
    const key = header(req, 'idempotency-key');
    const fault: Fault = key !== undefined ? (queue.shift() ?? { kind: 'pass' }) : { kind: 'pass' };
    const url = new URL(req.url ?? '/', 'http://proxy');
    const seen: SeenRequest = {
      method: req.method ?? 'GET',
      url: req.url ?? '/',
      key,
      batched: url.searchParams.get('batch') === '1',
      paths: decodeURIComponent(url.pathname.replace(/^\//, '')).split(','),
      fault: fault.kind,
    };
    requests.push(seen);
    events.emit('request', seen);
    const finish = (end: NonNullable<SeenRequest['end']>) => {
      seen.end = end;
      done += 1;
      events.emit('done', seen);
    };
    try {
      if (fault.kind === 'answer') {
        res.writeHead(fault.status, { 'content-type': 'application/json', ...fault.headers });
        res.end(fault.body ?? '');
        finish('sent');
        return;
      }
      const answer = await forward(upstream, req, body);
      if (fault.kind === 'reset-after-forward') {
        req.socket.destroy();
        finish('reset');
        return;
      }
      if (fault.kind === 'delay-response') await new Promise((resolve) => setTimeout(resolve, fault.ms));
      if (res.destroyed || req.socket.destroyed) {
        finish('client-gone');
        return;
      }
      res.writeHead(answer.status, answer.headers);
      res.end(answer.body);
      finish('sent');
    } catch {
      res.destroy();
      finish('client-gone');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  const waitFor = (event: 'request' | 'done', current: () => number, count: number) =>
    new Promise<void>((resolve) => {
      if (current() >= count) return resolve();
      const check = () => {
        if (current() >= count) {
          events.off(event, check);
          resolve();
        }
      };
      events.on(event, check);
    });

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    events,
    plan: (...faults) => {
      queue.push(...faults);
    },
    waitForRequests: (count) => waitFor('request', () => requests.length, count),
    waitForDone: (count) => waitFor('done', () => done, count),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

interface UpstreamAnswer {
  status: number;
  headers: http.OutgoingHttpHeaders;
  body: Buffer;
}

function forward(upstream: URL, req: IncomingMessage, body: Buffer): Promise<UpstreamAnswer> {
  return new Promise((resolve, reject) => {
    const { host: _host, connection: _connection, ...headers } = req.headers;
    const request = http.request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: { ...headers, 'content-length': String(body.length) },
      },
      (response) => {
        readBody(response).then((responseBody) => {
          const { connection: _c, 'transfer-encoding': _t, ...rest } = response.headers;
          resolve({
            status: response.statusCode ?? 502,
            headers: { ...rest, 'content-length': String(responseBody.length) },
            body: responseBody,
          });
        }, reject);
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}
