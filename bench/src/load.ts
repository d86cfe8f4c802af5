import autocannon from 'autocannon';
import superjson from 'superjson';
import { percentile } from './stats';

/** The payload every scenario sends, serialized the way tRPC's httpLink sends it with superjson. */
export const ORDER_INPUT = { item: 'paperback book', qty: 2, note: 'leave at the door, ring twice' };
export const ORDER_BODY = JSON.stringify(superjson.serialize(ORDER_INPUT));

/** Sends one order mutation to the bench server with the given key, the way httpLink would, and returns its status. */
export async function postOrder(url: string, path: string, key: string): Promise<number> {
  const response = await fetch(`${url}/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-user': 'bench-user', 'idempotency-key': key },
    body: ORDER_BODY,
  });
  await response.arrayBuffer();
  return response.status;
}

/** How one load run is shaped. */
export interface LoadOptions {
  url: string;
  path: string;
  connections: number;
  durationSec: number;
  /** `fresh`: a new key per request; a string: that key on every request; `none`: no key header. */
  key: 'fresh' | 'none' | string;
}

/** What one load run measured. */
export interface LoadResult {
  requests: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  statuses: Record<string, number>;
  errors: number;
  timeouts: number;
}

/**
 * Runs autocannon against one procedure. Every request is rebuilt per send (`idReplacement`), in
 * every scenario, so the load generator does the same work whatever the key mode.
 * Latencies are taken from autocannon's per-response hrtime (its own histogram rounds to whole ms).
 */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const prefix = `bench-${process.pid}-${Date.now().toString(36)}`;
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'x-user': 'bench-user',
    'x-request-id': '[<id>]',
  };
  if (options.key === 'fresh') headers['idempotency-key'] = `${prefix}-[<id>]`;
  else if (options.key !== 'none') headers['idempotency-key'] = options.key;

  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: `${options.url}/${options.path}`,
        method: 'POST',
        headers,
        body: ORDER_BODY,
        connections: options.connections,
        duration: options.durationSec,
        idReplacement: true,
      },
      (error, finished) => (error ? reject(error) : resolve(finished)),
    );
    instance.on('response', (_client, statusCode, _bytes, responseTimeMs) => {
      statuses[statusCode] = (statuses[statusCode] ?? 0) + 1;
      latencies.push(responseTimeMs);
    });
  });
  latencies.sort((a, b) => a - b);
  return {
    requests: latencies.length,
    rps: latencies.length / result.duration,
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
    statuses,
    errors: result.errors,
    timeouts: result.timeouts,
  };
}
