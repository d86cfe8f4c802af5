import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createIdempotentClient, mutateWithMeta } from '@trpc-idempotency/client';
import superjson from 'superjson';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { AppRouter } from '../../../examples/hono-fetch/src/router.js';

/** An example server as the conformance suite drives it: its base URL (tRPC at `/trpc`) and how to stop it. */
export interface ConformanceTarget {
  url: string;
  backend: ConformanceBackend;
  close(): Promise<void>;
}

/** Where an example keeps its payments and records. */
export type ConformanceBackend = 'memory' | 'redis' | 'postgres' | 'sqlite';

/**
 * Starts one example server: in memory, on the Redis at `redisUrl`, on the PostgreSQL database at
 * `databaseUrl`, or in the SQLite file `sqliteFile` (a fresh one in a temporary directory).
 */
export type StartTarget = (options: {
  redisUrl?: string;
  databaseUrl?: string;
  sqliteFile?: string;
}) => Promise<ConformanceTarget>;

const BACKEND_NAMES: Record<ConformanceBackend, string> = {
  memory: 'in memory',
  redis: 'on Redis',
  postgres: 'on PostgreSQL',
  sqlite: 'on SQLite',
};

const PAYMENT = { amount: 4200, currency: 'EUR' as const, note: 'Espresso beans, 1 kg' };

/** One `payments.create` the way the README's curl command sends it. */
async function curlPay(url: string, key: string | undefined, input: object = PAYMENT) {
  const response = await fetch(`${url}/trpc/payments.create`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key === undefined ? {} : { 'Idempotency-Key': key }) },
    body: JSON.stringify({ json: input }),
  });
  const body = JSON.parse(await response.text());
  return { status: response.status, headers: response.headers, body };
}

async function paymentsWithKey(url: string, key: string): Promise<Array<{ id: string; key: string }>> {
  const response = await fetch(`${url}/trpc/payments.list`);
  const payments = superjson.deserialize((await response.json()).result.data) as Array<{ id: string; key: string }>;
  return payments.filter((payment) => payment.key === key);
}

/**
 * The HTTP-level contract every example server keeps (docs/protocol.md §3), whatever its adapter: the
 * curl form, the replay and its header, the refusals with their codes, duplicates at once, and the SDK
 * client. The Node example (standalone adapter) and the Hono example (fetch adapter) both run it.
 */
export function describeExampleConformance(
  name: string,
  start: StartTarget,
  backends: readonly ConformanceBackend[] = ['memory', 'redis'],
): void {
  const postgresUrl = inject('postgresUrl');
  for (const backend of backends) {
    // Without PostgreSQL the PostgreSQL run is skipped (the global setup said how to install it; CI fails there).
    describe.skipIf(backend === 'postgres' && !postgresUrl)(
      `${name}, ${BACKEND_NAMES[backend]}: the HTTP contract`,
      () => {
        let target: ConformanceTarget;
        let sqliteDir: string | undefined;
        beforeAll(async () => {
          if (backend === 'sqlite') sqliteDir = mkdtempSync(join(tmpdir(), 'example-conformance-'));
          const options = {
            memory: {},
            redis: { redisUrl: inject('redisUrl') },
            postgres: { databaseUrl: postgresUrl! },
            sqlite: { sqliteFile: join(sqliteDir ?? '', 'payments.db') },
          };
          target = await start(options[backend]);
        });
        afterAll(async () => {
          await target?.close();
          if (sqliteDir) rmSync(sqliteDir, { recursive: true, force: true });
        });

        it('takes a payment from the curl command and replays it to a repeat, with one payment in the ledger', async () => {
          expect(target.backend).toBe(backend);
          const key = `curl-${randomUUID()}`;
          const first = await curlPay(target.url, key);
          const again = await curlPay(target.url, key);
          expect(first.status).toBe(200);
          expect(first.headers.get('idempotent-replayed')).toBeNull();
          expect(again.status).toBe(200);
          expect(again.headers.get('idempotent-replayed')).toBe('true');
          expect(again.body).toEqual(first.body);
          expect(superjson.deserialize(first.body.result.data)).toMatchObject({
            ...PAYMENT,
            key,
            fence: 1,
            createdAt: expect.any(Date),
          });
          expect(await paymentsWithKey(target.url, key)).toHaveLength(1);
        });

        it('refuses a missing key (400 KEY_MISSING) and a malformed one (400 KEY_INVALID), and records nothing', async () => {
          const missing = await curlPay(target.url, undefined);
          expect(missing.status).toBe(400);
          expect(missing.body.error.json.data.idempotency.code).toBe('KEY_MISSING');
          const invalid = await curlPay(target.url, 'k'.repeat(256));
          expect(invalid.status).toBe(400);
          expect(invalid.body.error.json.data.idempotency.code).toBe('KEY_INVALID');
        });

        it('answers the same key with another input 422 PAYLOAD_MISMATCH', async () => {
          const key = `mismatch-${randomUUID()}`;
          expect((await curlPay(target.url, key)).status).toBe(200);
          const other = await curlPay(target.url, key, { ...PAYMENT, amount: 1 });
          expect(other.status).toBe(422);
          expect(other.body.error.json.data.idempotency.code).toBe('PAYLOAD_MISMATCH');
          expect(await paymentsWithKey(target.url, key)).toHaveLength(1);
        });

        it('runs 8 copies sent at once once: the others get that payment or 409 IN_PROGRESS with Retry-After', async () => {
          const key = `burst-${randomUUID()}`;
          const answers = await Promise.all(Array.from({ length: 8 }, () => curlPay(target.url, key)));
          const payments = await paymentsWithKey(target.url, key);
          expect(payments).toHaveLength(1);
          for (const answer of answers) {
            if (answer.status === 200) {
              expect(superjson.deserialize<{ id: string }>(answer.body.result.data).id).toBe(payments[0]!.id);
              continue;
            }
            expect(answer.status).toBe(409);
            expect(answer.body.error.json.data.idempotency).toMatchObject({
              code: 'IN_PROGRESS',
              retryAfterMs: expect.any(Number),
            });
            expect(Number(answer.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
          }
          expect(answers.filter((answer) => answer.status === 409).length).toBeGreaterThan(0);
        });

        it('refuses a 2 MiB input with 413 INPUT_TOO_LARGE (never 500), before anything is recorded', async () => {
          const key = `big-${randomUUID()}`;
          const big = await curlPay(target.url, key, { ...PAYMENT, note: 'n'.repeat(2 * 1024 * 1024) });
          expect(big.status).toBe(413);
          expect(big.body.error.json.data.idempotency.code).toBe('INPUT_TOO_LARGE');
          expect(await paymentsWithKey(target.url, key)).toHaveLength(0);
        });

        it('pays once through the SDK client, and tells the replay of the same intent', async () => {
          const client = createIdempotentClient<AppRouter>({ url: `${target.url}/trpc`, transformer: superjson });
          const idempotencyKey = `sdk-${randomUUID()}`;
          const first = await mutateWithMeta(client.payments.create, PAYMENT, { idempotencyKey });
          const again = await mutateWithMeta(client.payments.create, PAYMENT, { idempotencyKey });
          expect(first).toMatchObject({ replayed: false, key: idempotencyKey, attempts: 1 });
          expect(again).toMatchObject({ replayed: true, key: idempotencyKey });
          expect(again.data).toEqual(first.data);
          expect(await paymentsWithKey(target.url, idempotencyKey)).toHaveLength(1);
        });
      },
    );
  }
}
