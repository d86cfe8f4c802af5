import type { IncomingMessage, ServerResponse } from 'node:http';
import { TRPC_ERROR_CODES_BY_KEY } from '@trpc/server/rpc';
import { IDEMPOTENCY_KEY_HEADER, IDEMPOTENT_REPLAYED_HEADER } from '@trpc-idempotency/server';
import superjson from 'superjson';
import { z } from 'zod';
import { LeasePause } from './leasePause.js';

/** The faults the chaos panel can switch on. They apply to keyed `payments.create` calls only. */
export const chaosSettingsSchema = z.object({
  /** Let the handler run and commit, then cut the connection instead of answering. Replays get through. */
  dropResponseAfterCommit: z.boolean(),
  /** Wait this long before the request reaches tRPC. */
  delayMs: z.number().int().min(0).max(10_000),
  /** Answer 503 to the first N attempts of each key, before the handler runs. */
  failFirstAttempts: z.number().int().min(0).max(10),
  /** Cut the idempotency store's Redis connection (Redis backend only). */
  storeUnreachable: z.boolean(),
  /** Stop the first handler of each payment before its ledger write, past its lease (see LeasePause). */
  pauseHandlerPastLease: z.boolean(),
});

/** The state of the chaos panel. */
export type ChaosSettings = z.infer<typeof chaosSettingsSchema>;

/** All faults off. */
export const NO_CHAOS: ChaosSettings = {
  dropResponseAfterCommit: false,
  delayMs: 0,
  failFirstAttempts: 0,
  storeUnreachable: false,
  pauseHandlerPastLease: false,
};

const MAX_TRACKED_KEYS = 1000;
type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * Holds the fault switches and puts them between the network and the tRPC handler. Only the demo
 * (`npm start`) makes one: a server built without it has no faults and no chaos endpoints.
 */
export class Chaos {
  settings: ChaosSettings = { ...NO_CHAOS };
  /** "Pause the handler past its lease": wrap the store and the ledger with it. */
  readonly leasePause = new LeasePause(() => this.settings.pauseHandlerPastLease);
  /** Attempts seen per key, for "fail the first N attempts". */
  readonly #attempts = new Map<string, number>();

  /** Wraps the tRPC HTTP handler so that keyed `payments.create` requests meet the faults that are on. */
  wrap(handler: Handler, path = '/trpc/payments.create'): Handler {
    return (req, res) => {
      const key = req.headers[IDEMPOTENCY_KEY_HEADER.toLowerCase()];
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (req.method !== 'POST' || url.pathname !== path || typeof key !== 'string') return handler(req, res);
      void this.#run(key, handler, req, res);
    };
  }

  async #run(key: string, handler: Handler, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { delayMs, failFirstAttempts, dropResponseAfterCommit } = this.settings;
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
    const attempt = this.#countAttempt(key);
    if (attempt <= failFirstAttempts) return sendServiceUnavailable(res, attempt, failFirstAttempts);
    if (dropResponseAfterCommit) dropFreshSuccess(res);
    this.leasePause.runRequest(() => handler(req, res));
  }

  #countAttempt(key: string): number {
    const attempt = (this.#attempts.get(key) ?? 0) + 1;
    this.#attempts.delete(key);
    this.#attempts.set(key, attempt);
    if (this.#attempts.size > MAX_TRACKED_KEYS) this.#attempts.delete(this.#attempts.keys().next().value!);
    return attempt;
  }
}

/** Answers like tRPC would for a `SERVICE_UNAVAILABLE` error, so the client sees an ordinary 503. */
function sendServiceUnavailable(res: ServerResponse, attempt: number, of: number): void {
  const error = {
    message: `Chaos panel: failing attempt ${attempt} of the first ${of} with 503.`,
    code: TRPC_ERROR_CODES_BY_KEY.SERVICE_UNAVAILABLE,
    data: { code: 'SERVICE_UNAVAILABLE', httpStatus: 503, path: 'payments.create', chaos: true },
  };
  res.writeHead(503, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ error: superjson.serialize(error) }));
}

/**
 * Lets the handler run and commit, then cuts the connection after the status line and headers of a
 * fresh success, so the client never gets the body. A replay (`Idempotent-Replayed`) is let through,
 * so a retry with the same key gets its answer.
 *
 * The headers go out first on purpose: a browser silently resends a POST whose reused connection closed
 * before any byte came back, and the page would never see the failure (the key would still save it).
 */
function dropFreshSuccess(res: ServerResponse): void {
  const write = res.write.bind(res);
  const end = res.end.bind(res);
  let dropped: boolean | undefined;
  const shouldDrop = () => {
    if (dropped === undefined) {
      dropped = res.statusCode === 200 && res.getHeader(IDEMPOTENT_REPLAYED_HEADER) !== 'true';
      if (dropped) {
        res.flushHeaders();
        res.socket?.end();
      }
    }
    return dropped;
  };
  res.write = ((...args: Parameters<typeof write>) => (shouldDrop() ? true : write(...args))) as typeof res.write;
  res.end = ((...args: Parameters<typeof end>) => (shouldDrop() ? res : end(...args))) as typeof res.end;
}
