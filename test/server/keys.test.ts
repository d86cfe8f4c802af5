import { request } from 'node:http';
import { MemoryStore } from '@trpc-idempotency/server';
import superjson from 'superjson';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postMutation, startTestApp, type TestApp } from '../support/app.js';
import { newKey } from '../support/backends.js';

/** Sends a header value byte for byte: fetch refuses some of the values this test needs. */
function postRaw(url: string, path: string, headers: Record<string, string>): Promise<{ status: number; body: any }> {
  const body = JSON.stringify(superjson.serialize({ item: 'lamp' }));
  return new Promise((resolve, reject) => {
    const req = request(`${url}/${path}`, { method: 'POST', insecureHTTPParser: true }, (res) => {
      let text = '';
      res.on('data', (chunk) => {
        text += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.setHeader('content-type', 'application/json');
    for (const [name, value] of Object.entries(headers)) req.setHeader(name, value);
    req.end(body);
  });
}

describe('the Idempotency-Key format rule', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ store: new MemoryStore() });
  });
  afterAll(async () => {
    await app.close();
  });

  it('answers a missing key with 400 KEY_MISSING, and runs nothing', async () => {
    const answer = await postMutation(app.url, 'orders.create', { item: 'lamp' }, { 'x-user': 'ann' });
    expect(answer.status).toBe(400);
    expect(answer.error?.data.idempotency).toEqual({ code: 'KEY_MISSING' });
    expect(app.effects.orders).toHaveLength(0);
  });

  it.each([
    ['an empty key', ''],
    ['a key of 256 characters', 'k'.repeat(256)],
    ['a key with a tab', 'abc\tdef'],
    ['a key with a space', 'abc def'],
    ['a key with a non-ASCII character', 'caf\u00e9'],
    ['an empty structured-field string', '""'],
    ['two different keys in one header', 'a, b'],
  ])('answers %s with 400 KEY_INVALID', async (_label, key) => {
    const before = app.effects.orders.length;
    const answer =
      /[^\x20-\x7e]/.test(key) || key === ''
        ? await postRaw(app.url, 'orders.create', { 'idempotency-key': key, 'x-user': 'ann' }).then((raw) => ({
            status: raw.status,
            idempotency: superjson.deserialize<any>(raw.body.error).data.idempotency,
          }))
        : await postMutation(
            app.url,
            'orders.create',
            { item: 'lamp' },
            { 'idempotency-key': key, 'x-user': 'ann' },
          ).then((raw) => ({ status: raw.status, idempotency: raw.error?.data.idempotency }));
    expect(answer.status).toBe(400);
    expect(answer.idempotency).toEqual({ code: 'KEY_INVALID', reason: 'format' });
    expect(app.effects.orders.length).toBe(before);
  });

  it('refuses a key with DEL or another raw control byte with 400, before anything runs', async () => {
    // Node's HTTP client refuses 0x7F in a header, so this one goes out as raw bytes. Node's own HTTP parser
    // answers 400 before tRPC sees it; on runtimes that let it through, the format rule answers KEY_INVALID
    // (see test/protocol/key.test.ts).
    const before = app.effects.orders.length;
    const { createConnection } = await import('node:net');
    const { port } = new URL(app.url);
    const body = JSON.stringify(superjson.serialize({ item: 'lamp' }));
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = createConnection(Number(port), '127.0.0.1');
      let text = '';
      socket.on('data', (chunk) => {
        text += chunk;
      });
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
      socket.end(
        `POST /orders.create HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n` +
          `X-User: ann\r\nIdempotency-Key: abc\x7fdef\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
    });
    expect(raw.startsWith('HTTP/1.1 400 ')).toBe(true);
    expect(app.effects.orders.length).toBe(before);
  });

  it.each([
    ['braces and colons', `{tag}:a:b:{c}-${newKey()}`],
    ['exactly 255 characters', `${newKey()}-`.padEnd(255, 'x')],
    ['every visible ASCII character', `!"#$%&'()*+,-./09:;<=>?@AZ[\\]^_\`az{|}~-${newKey()}`],
  ])('accepts a key with %s, and replays it', async (_label, key) => {
    const headers = { 'idempotency-key': key, 'x-user': 'ann' };
    const first = await postMutation(app.url, 'orders.create', { item: 'lamp' }, headers);
    const second = await postMutation(app.url, 'orders.create', { item: 'lamp' }, headers);
    expect(first.status).toBe(200);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(second.data.orderId).toBe(first.data.orderId);
    expect(app.runsOf('ann', key)).toBe(1);
  });

  it('reads the structured-field string form and the X-Idempotency-Key header as the same key', async () => {
    const key = newKey();
    const first = await postMutation(
      app.url,
      'orders.create',
      { item: 'lamp' },
      { 'idempotency-key': `"${key}"`, 'x-user': 'ann' },
    );
    const second = await postMutation(
      app.url,
      'orders.create',
      { item: 'lamp' },
      { 'x-idempotency-key': key, 'x-user': 'ann' },
    );
    expect(first.status).toBe(200);
    expect(second.data.orderId).toBe(first.data.orderId);
    expect(app.runsOf('ann', key)).toBe(1);
  });
});
