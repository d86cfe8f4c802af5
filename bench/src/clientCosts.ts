import { createTRPCClient, httpLink } from '@trpc/client';
import { createIdempotentClient, deriveIdempotencyKey } from '@trpc-idempotency/client';
import superjson from 'superjson';
import type { buildBenchRouter } from './app';
import { ORDER_INPUT } from './load';
import { median } from './stats';
import { fixed, markdownTable } from './table';

type BenchRouter = ReturnType<typeof buildBenchRouter>;

/** An input whose JSON is about `bytes` long: a list of order lines. */
export function inputOfSize(bytes: number): { lines: Array<{ sku: string; qty: number; note: string }> } {
  const line = { sku: 'SKU-0000000', qty: 1, note: 'x'.repeat(40) };
  const perLine = JSON.stringify(line).length + 1;
  return {
    lines: Array.from({ length: Math.max(1, Math.round(bytes / perLine)) }, (_, i) => ({
      ...line,
      sku: `SKU-${String(i).padStart(7, '0')}`,
    })),
  };
}

/** Calls of `run` per second, over `seconds`, after a short warm-up. */
async function opsPerSecond(run: () => Promise<unknown>, seconds: number): Promise<number> {
  const warmEnd = performance.now() + Math.min(500, seconds * 250);
  while (performance.now() < warmEnd) await run();
  let calls = 0;
  const startedAt = performance.now();
  const end = startedAt + seconds * 1000;
  while (performance.now() < end) {
    await run();
    calls++;
  }
  return calls / ((performance.now() - startedAt) / 1000);
}

/** One row of the derive table. */
export interface DeriveResult {
  label: string;
  jsonBytes: number;
  deriveOnlyPerSec: number;
  serializeAndDerivePerSec: number;
}

/** Times `key: 'derive'` on 1 KB and 64 KB inputs: the exported function alone, and with superjson first as the link does. */
export async function measureDerive(seconds: number): Promise<DeriveResult[]> {
  const results: DeriveResult[] = [];
  for (const [label, bytes] of [
    ['1 KB', 1024],
    ['64 KB', 64 * 1024],
  ] as const) {
    const input = inputOfSize(bytes);
    const serializedInput = superjson.serialize(input);
    const parts = { user: 'bench-user', path: 'orders.create', serializedInput };
    results.push({
      label,
      jsonBytes: JSON.stringify(input).length,
      deriveOnlyPerSec: await opsPerSecond(() => deriveIdempotencyKey(parts), seconds),
      serializeAndDerivePerSec: await opsPerSecond(
        () => deriveIdempotencyKey({ ...parts, serializedInput: superjson.serialize(input) }),
        seconds,
      ),
    });
  }
  return results;
}

/** The link's cost per mutation, against a plain httpLink, on the same server and procedure. */
export interface LinkOverhead {
  /** `network`: the real bench server over loopback; `in-memory`: a fetch that answers at once, so only client CPU counts. */
  transport: 'network' | 'in-memory';
  plainUs: number;
  uuidUs: number;
  deriveUs: number;
  mutationsPerClient: number;
}

/** A fetch that answers every call with the same recorded tRPC response, without a network. */
export async function recordedFetch(url: string): Promise<typeof fetch> {
  const response = await fetch(`${url}/plain`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-user': 'bench-user' },
    body: JSON.stringify(superjson.serialize(ORDER_INPUT)),
  });
  const body = await response.text();
  if (response.status !== 200) throw new Error(`recording the plain answer failed: ${response.status} ${body}`);
  return (async () =>
    new Response(body, { status: 200, headers: { 'content-type': 'application/json' } })) as typeof fetch;
}

/**
 * Sends the same mutation one after another through three clients, in alternating blocks whose order
 * rotates, so that a slow spell of the machine hits all three: tRPC's own httpLink,
 * createIdempotentClient with uuid keys, and with derived keys. The server's `plain` procedure ignores
 * the key, so the server's work is the same for all three and the difference is the client's.
 */
export async function measureLinkOverhead(
  url: string,
  blocks: number,
  perBlock: number,
  fetchImpl?: typeof fetch,
): Promise<LinkOverhead> {
  const headers = { 'x-user': 'bench-user' };
  const fetchOption = fetchImpl ? { fetch: fetchImpl } : {};
  const plain = createTRPCClient<BenchRouter>({
    links: [httpLink({ url, transformer: superjson, headers, ...fetchOption })],
  });
  const uuid = createIdempotentClient<BenchRouter>({ url, transformer: superjson, headers, ...fetchOption });
  const derive = createIdempotentClient<BenchRouter>({
    url,
    transformer: superjson,
    headers,
    ...fetchOption,
    idempotency: { key: 'derive', user: 'bench-user', dedupe: false },
  });
  let n = 0;
  const clients = {
    plain: () => plain.plain.mutate(ORDER_INPUT),
    uuid: () => uuid.plain.mutate(ORDER_INPUT),
    // A different input each time, so that derived keys differ as they would for distinct intents.
    derive: () => derive.plain.mutate({ ...ORDER_INPUT, note: `${ORDER_INPUT.note} ${n++}` }),
  };
  const names = Object.keys(clients) as Array<keyof typeof clients>;
  const perMutation: Record<keyof typeof clients, number[]> = { plain: [], uuid: [], derive: [] };
  for (let block = -1; block < blocks; block++) {
    const order = names.map((_, i) => names[(i + Math.max(0, block)) % names.length]!);
    for (const name of order) {
      const startedAt = performance.now();
      for (let i = 0; i < perBlock; i++) await clients[name]();
      // Block -1 warms every client up and is not counted.
      if (block >= 0) perMutation[name].push(((performance.now() - startedAt) * 1000) / perBlock);
    }
  }
  return {
    transport: fetchImpl ? 'in-memory' : 'network',
    plainUs: median(perMutation.plain),
    uuidUs: median(perMutation.uuid),
    deriveUs: median(perMutation.derive),
    mutationsPerClient: blocks * perBlock,
  };
}

/** The client's costs as two tables. */
export function clientTables(derive: DeriveResult[], links: LinkOverhead[]): string {
  const deriveTable = markdownTable(
    ['input', 'JSON bytes', 'derive only (ops/s)', 'µs/op', 'superjson + derive (ops/s)', 'µs/op'],
    derive.map((row) => [
      row.label,
      String(row.jsonBytes),
      fixed(row.deriveOnlyPerSec, 0),
      fixed(1e6 / row.deriveOnlyPerSec, 1),
      fixed(row.serializeAndDerivePerSec, 0),
      fixed(1e6 / row.serializeAndDerivePerSec, 1),
    ]),
    ['l', 'r', 'r', 'r', 'r', 'r'],
  );
  const linkTables = links.map((link) => {
    const table = markdownTable(
      ['client', 'µs per mutation (median of blocks)', 'added µs vs httpLink'],
      [
        ['tRPC httpLink', fixed(link.plainUs, 1), '0'],
        ["createIdempotentClient, key: 'uuid'", fixed(link.uuidUs, 1), fixed(link.uuidUs - link.plainUs, 1)],
        ["createIdempotentClient, key: 'derive'", fixed(link.deriveUs, 1), fixed(link.deriveUs - link.plainUs, 1)],
      ],
      ['l', 'r', 'r'],
    );
    const where =
      link.transport === 'network'
        ? 'over loopback to the bench server'
        : 'with a fetch that answers at once from a recorded response (client CPU only)';
    return `Link overhead, ${where}, ${link.mutationsPerClient} sequential mutations per client:\n\n${table}`;
  });
  return [deriveTable, ...linkTables].join('\n\n');
}
