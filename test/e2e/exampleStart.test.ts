import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setChaos } from './support/exampleApi.js';
import { type ExampleProcess, ROOT_DIR, START_COMMAND, startExampleProcess } from './support/exampleProcess.js';

// `npm start` itself: what it does with a busy port, and that the server it starts answers errors the
// way production should, without stack traces.

/** Runs a command to its end and returns its exit code and everything it printed. */
function runToEnd(command: string, args: string[], env: Record<string, string>) {
  return new Promise<{ code: number | null; output: string }>((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT_DIR, env: { ...process.env, ...env } });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, output }));
  });
}

describe('npm start', () => {
  let busy: Server;
  let port: number;
  beforeAll(async () => {
    busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    port = (busy.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((resolve) => busy.close(() => resolve())));

  it('runs the start script that the tests start', () => {
    const scripts = JSON.parse(readFileSync(`${ROOT_DIR}package.json`, 'utf8')).scripts;
    expect(scripts.start).toBe(`node ${START_COMMAND.slice(1).join(' ')}`);
  });

  it('ends on a busy port with one clear message, before building anything, and no npm error lines', async () => {
    const { code, output } = await runToEnd('npm', ['start'], { PORT: String(port) });
    expect(code).toBe(1);
    // npm's own warnings about the machine's config are not the script's: leave them out.
    const lines = output
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line && !line.startsWith('npm warn') && !line.startsWith('>'));
    expect(lines).toEqual([`Port ${port} is in use. Start on another one: PORT=${port + 1} npm start`]);
  }, 30_000);
});

describe('the API of npm start', () => {
  let server: ExampleProcess;
  beforeAll(async () => {
    server = await startExampleProcess();
  }, 180_000);
  afterAll(() => server?.stop());

  /** What curl sends and gets: the status and the raw body. */
  async function curl(path: string, init: RequestInit & { key?: string } = {}) {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (init.key) headers['Idempotency-Key'] = init.key;
    const response = await fetch(`${server.url}/trpc/${path}`, { ...init, headers });
    return { status: response.status, body: await response.text() };
  }
  const post = (path: string, json: unknown, key?: string) =>
    curl(path, { method: 'POST', body: JSON.stringify({ json }), ...(key ? { key } : {}) });

  it('answers every kind of error without a stack trace or a path on the server', async () => {
    const key = `stack-${randomUUID()}`;
    await post('payments.create', { amount: 1250, currency: 'USD', note: '' }, key);
    const answers = [
      await post('payments.create', { amount: 1250, currency: 'USD' }), // 400 KEY_MISSING
      await post('payments.create', { amount: 1250, currency: 'USD' }, 'not a valid key'), // 400 KEY_INVALID
      await post('payments.create', { amount: 99_999_999, currency: 'USD' }, `big-${randomUUID()}`), // 400 zod
      await post('payments.create', { amount: 'twelve', currency: 'XXX' }, `odd-${randomUUID()}`), // 400 zod
      await post('payments.create', { amount: 999, currency: 'USD', note: '' }, key), // 422 PAYLOAD_MISMATCH
      await curl('payments.create', { method: 'POST', body: '{not json', key: `parse-${randomUUID()}` }), // 400
      await curl('payments.create'), // 405 a mutation by GET
      await curl('payments.nothing'), // 404
      await post('chaos.set', { delayMs: -5 }), // 400 zod on the chaos panel
    ];
    expect(await setChaos(server.url, { failFirstAttempts: 1 })).toBe(200);
    answers.push(await post('payments.create', { amount: 1250, currency: 'USD' }, `busy-${randomUUID()}`)); // 503
    await setChaos(server.url, { failFirstAttempts: 0 });
    expect(answers.map((answer) => answer.status)).toEqual([400, 400, 400, 400, 422, 400, 405, 404, 400, 503]);
    for (const { body } of answers) {
      expect(body).not.toContain('stack');
      expect(body).not.toContain(ROOT_DIR);
      expect(body).not.toContain('node_modules');
    }
  });
});
