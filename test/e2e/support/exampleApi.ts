import superjson from 'superjson';
import type { ChaosSettings } from '../../../examples/react-node/server/src/chaos.js';
import type { Payment, RefusedWrite } from '../../../examples/react-node/server/src/ledger.js';

// The example's API read over plain HTTP, as curl would, so that counts never depend on the page.

/** The chaos panel's switches. */
export type ChaosSwitches = ChaosSettings;

async function query<T>(url: string, path: string): Promise<T> {
  const response = await fetch(`${url}/trpc/${path}`);
  const body = (await response.json()) as { result?: { data: any }; error?: unknown };
  if (!body.result) throw new Error(`${path} answered ${response.status}: ${JSON.stringify(body.error)}`);
  return superjson.deserialize<T>(body.result.data);
}

/** Every payment the server holds, newest first. */
export const serverPayments = (url: string) => query<Payment[]>(url, 'payments.list');

/** The late writes the server's ledger refused, newest first. */
export const serverRefusals = (url: string) => query<RefusedWrite[]>(url, 'payments.refusedWrites');

/** Sets chaos switches through the API (the demo only), and returns the answer's status. */
export async function setChaos(url: string, switches: Partial<ChaosSwitches>): Promise<number> {
  const response = await fetch(`${url}/trpc/chaos.set`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ json: switches }),
  });
  await response.arrayBuffer();
  return response.status;
}
