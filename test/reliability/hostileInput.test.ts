import fc from 'fast-check';
import { Redis } from 'ioredis';
import superjson from 'superjson';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisProcess, startRedis } from '../support/redisServer.js';
import { type ServerProcess, spawnServer } from './support/processes.js';
import { type RawResponse, rawRequest } from './support/rawHttp.js';
import { FULL, recordFigures, size } from './support/scale.js';

const RUNS = size(300, 3000);
const PREFIX = 'rel-hostile:';

const char = (from: number, to: number) => fc.integer({ min: from, max: to }).map((c) => String.fromCharCode(c));
/** Keys the protocol accepts: visible ASCII, 1 to 255 characters. */
const validKey = fc.string({ unit: char(0x21, 0x7e), minLength: 1, maxLength: 255 });
/** Valid keys made of the characters that break weaker key schemes: braces, quotes, colons, globs. */
const trickyKey = fc.string({
  unit: fc.constantFrom('{', '}', '"', "'", '\\', ':', '*', '?', '[', ']', '%', 'a', 'Z', '0'),
  minLength: 1,
  maxLength: 120,
});
const keyArbitrary = fc.oneof(
  { weight: 3, arbitrary: validKey },
  { weight: 3, arbitrary: trickyKey },
  { weight: 1, arbitrary: validKey.map((key) => `"${key}"`) },
  // Every byte value, up to 10,000 bytes.
  { weight: 2, arbitrary: fc.uint8Array({ minLength: 0, maxLength: 10_000 }).map((bytes) => Buffer.from(bytes)) },
  // Any unicode, sent as UTF-8.
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 2000 }).map((text) => Buffer.from(text, 'utf8')) },
  { weight: 1, arbitrary: fc.integer({ min: 256, max: 10_000 }).map((length) => 'k'.repeat(length)) },
);
const scopeArbitrary = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: char(0x21, 0x7e), minLength: 0, maxLength: 40 }) },
  { weight: 1, arbitrary: trickyKey },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }).map((text) => Buffer.from(text, 'utf8')) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 40 }).map((bytes) => Buffer.from(bytes)) },
);
const bodyArbitrary = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .record({ intent: fc.string(), amount: fc.integer(), note: fc.option(fc.jsonValue(), { nil: undefined }) })
      .map((input) => {
        try {
          return JSON.stringify(superjson.serialize(input));
        } catch {
          // superjson refuses to write keys such as "__proto__"; send them as plain JSON, which the
          // server must refuse cleanly too.
          return JSON.stringify({ json: input });
        }
      }),
  },
  { weight: 1, arbitrary: fc.jsonValue().map((value) => JSON.stringify(value)) },
  { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
);

const asText = (value: Buffer | string) => (typeof value === 'string' ? value : value.toString('latin1'));

/** A header value as Node's HTTP server hands it over: latin1, without surrounding spaces and tabs. */
const headerValue = (value: Buffer | string) => asText(value).replace(/^[ \t]+|[ \t]+$/g, '');
/** The structured-field string form of a key, `"abc"`, names the key `abc` (docs/protocol.md §1). */
const unquote = (key: string) => (key.length >= 2 && key.startsWith('"') && key.endsWith('"') ? key.slice(1, -1) : key);

interface PaymentData {
  orderId: string;
  path: string;
  scope: string;
  key: string;
}

function dataOf(response: RawResponse): PaymentData | undefined {
  if (response.status !== 200) return undefined;
  const body = JSON.parse(response.body) as { result: { data: unknown } };
  return superjson.deserialize(body.result.data as any) as PaymentData;
}

describe('hostile input: random keys, scopes and inputs against a real server on Redis', () => {
  let idem: RedisProcess;
  let server: ServerProcess;

  beforeAll(async () => {
    idem = await startRedis();
    server = await spawnServer({ store: 'redis', redisUrl: idem.url, prefix: PREFIX });
  });

  afterAll(async () => {
    await server?.stop();
    await idem?.stop();
  });

  it('never answers 500, never replays across scopes or procedures, and never puts a raw key into a Redis key name', {
    timeout: FULL ? 400_000 : 90_000,
  }, async () => {
    const statuses: Record<number, number> = {};
    const rawKeys: string[] = [];
    let replays = 0;
    let caseNumber = 0;

    await fc.assert(
      fc.asyncProperty(keyArbitrary, scopeArbitrary, bodyArbitrary, async (key, scope, body) => {
        const id = caseNumber++;
        rawKeys.push(asText(key));
        const otherScope = typeof scope === 'string' ? `other:${scope}` : Buffer.concat([Buffer.from('other:'), scope]);
        const send = (who: Buffer | string, path: 'pay' | 'refund') =>
          rawRequest(server.url, {
            method: 'POST',
            path: `/${path}`,
            headers: [
              ['Content-Type', 'application/json'],
              ['Idempotency-Key', key],
              ['X-User', who],
            ],
            body,
          });
        const sent = [
          { label: `${id}/A/pay`, response: await send(scope, 'pay') },
          { label: `${id}/B/pay`, response: await send(otherScope, 'pay') },
          { label: `${id}/A/refund`, response: await send(scope, 'refund') },
          { label: `${id}/A/pay`, response: await send(scope, 'pay') },
        ];
        for (const { label, response } of sent) {
          statuses[response.status] = (statuses[response.status] ?? 0) + 1;
          expect(response.status, `${label}: ${response.body.slice(0, 300)}`).toBeLessThan(500);
          const data = dataOf(response);
          if (!data) continue;
          // The outcome, first run or replay, belongs to exactly the scope, procedure and key of this
          // request as the server read them: a replay across scopes or procedures fails here.
          const [, who, path] = label.split('/');
          expect(data.path).toBe(path);
          expect(data.scope).toBe(headerValue(who === 'A' ? scope : otherScope));
          expect(data.key).toBe(unquote(headerValue(key)));
          if (response.headers.get('idempotent-replayed') === 'true') replays++;
        }
        const [a, , , again] = sent.map((s) => dataOf(s.response));
        if (a && again) expect(again.orderId).toBe(a.orderId);
      }),
      { numRuns: RUNS },
    );

    const redis = new Redis(idem.url);
    const names: string[] = [];
    try {
      for await (const batch of redis.scanStream({ count: 1000 })) names.push(...(batch as string[]));
    } finally {
      redis.disconnect();
    }
    const misshapen = names.filter((name) => !/^rel-hostile:\{[0-9a-f]{64}\}$/.test(name));
    const meaningful = [...new Set(rawKeys.filter((raw) => raw.length >= 8))];
    const leaked = names.filter((name) => meaningful.some((raw) => name.includes(raw)));

    recordFigures('hostile-input', {
      cases: caseNumber,
      requests: Object.values(statuses).reduce((a, b) => a + b, 0),
      statuses,
      replays,
      redisKeys: names.length,
      misshapenRedisKeys: misshapen.length,
      rawKeysFoundInRedisKeyNames: leaked.length,
    });

    expect(misshapen).toEqual([]);
    expect(leaked).toEqual([]);
    expect(names.length).toBeGreaterThan(0);
    expect(replays).toBeGreaterThan(0);
    const stats = await server.stats();
    expect(stats.internalErrors + stats.unhandledRejections).toBe(0);
  });
});
