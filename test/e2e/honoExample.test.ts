import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT_DIR = fileURLToPath(new URL('../../', import.meta.url));
const EXAMPLE_DIR = fileURLToPath(new URL('../../examples/hono-fetch/', import.meta.url));

/** A started example process: its URL, everything it printed, and its end. */
interface Started {
  child: ChildProcess;
  url: string;
  output(): string;
  exited: Promise<number | null>;
}

/** Starts `command` on a free port (PORT=0) and waits for the URL the example prints. */
async function start(command: string, args: string[], options: { cwd: string; env?: Record<string, string> }) {
  // Its own process group, so that the npm, tsx and node processes of `npm run start:hono` end together.
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: { ...process.env, PORT: '0', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    // Room for a slow start on a busy machine; the example itself builds nothing.
    const timer = setTimeout(() => reject(new Error(`The Hono example did not start in 30 s:\n${output}`)), 30_000);
    const onData = (chunk: Buffer) => {
      output += chunk;
      const match = /running at (\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`The Hono example exited with ${code} before it started:\n${output}`));
    });
  });
  return { child, url, output: () => output, exited } satisfies Started;
}

function killGroup(started: Started | undefined) {
  // The whole group, even when npm itself has already gone: the node process under it may not have.
  if (!started) return;
  try {
    process.kill(-started.child.pid!, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

/** What curl sends and gets: the status and the raw body. */
async function curl(url: string, path: string, init: RequestInit & { key?: string } = {}) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (init.key) headers['Idempotency-Key'] = init.key;
  const response = await fetch(`${url}/trpc/${path}`, { ...init, headers });
  return { status: response.status, body: await response.text() };
}
const pay = (url: string, json: unknown, key?: string) =>
  curl(url, 'payments.create', { method: 'POST', body: JSON.stringify({ json }), ...(key ? { key } : {}) });

/** Where a server's files are, as a stack trace or an error from the file system would name them. */
const SERVER_PATH = /\/[\w.@-]+\/[\w.@-]+\/|file:\/\//;

// `npm run start:hono` as a user types it: nothing to build first (the example runs the workspace's packages
// from source), and the server in production mode, so that no error answer carries a stack or a path.
describe('npm run start:hono', () => {
  let example: Started | undefined;
  beforeAll(async () => {
    // NODE_ENV is "test" here: the start script itself has to make it production.
    example = await start('npm', ['run', 'start:hono'], { cwd: ROOT_DIR, env: { NODE_ENV: 'test' } });
  }, 40_000);
  afterAll(() => killGroup(example));

  it('starts without building anything: npm names the script, the example prints one line', () => {
    const lines = example!
      .output()
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line && !line.startsWith('>') && !line.startsWith('npm warn'));
    expect(lines).toEqual([`trpc-idempotency Hono example (memory store) is running at ${example!.url}`]);
  });

  it('answers every kind of error without a stack trace or a path on the server', async () => {
    const { url } = example!;
    const key = `stack-${randomUUID()}`;
    expect((await pay(url, { amount: 1250, currency: 'USD', note: '' }, key)).status).toBe(200);
    const answers = [
      await pay(url, { amount: 1250, currency: 'USD' }), // 400 KEY_MISSING
      await pay(url, { amount: 1250, currency: 'USD' }, 'not a valid key'), // 400 KEY_INVALID
      await pay(url, { amount: 2_000_000, currency: 'USD' }, `big-${randomUUID()}`), // 400 zod
      await pay(url, { amount: 'twelve', currency: 'XXX' }, `odd-${randomUUID()}`), // 400 zod
      await pay(url, { amount: 999, currency: 'USD', note: '' }, key), // 422 PAYLOAD_MISMATCH
      await curl(url, 'payments.create', { method: 'POST', body: '{not json', key: `parse-${randomUUID()}` }), // 400
      await curl(url, 'payments.create'), // 405 a mutation by GET
      await curl(url, 'payments.nothing'), // 404
    ];
    expect(answers.map((answer) => answer.status)).toEqual([400, 400, 400, 400, 422, 400, 405, 404]);
    for (const { body } of answers) {
      expect(body).not.toContain('stack');
      expect(body).not.toContain(ROOT_DIR);
      expect(body).not.toContain('node_modules');
      expect(body).not.toMatch(SERVER_PATH);
    }
  });

  it('refuses an amount over 1,000,000 (10,000.00) with 400 naming the limit, and charges nothing', async () => {
    const { url } = example!;
    const key = `limit-${randomUUID()}`;
    const refused = await pay(url, { amount: 2_000_000, currency: 'EUR', note: 'too much' }, key);
    expect(refused.status).toBe(400);
    const { error } = JSON.parse(refused.body);
    expect(error.json.message).toBe('The input was not accepted. amount: A single payment can be at most 10,000.00.');
    expect(error.json.data.zodError.fieldErrors).toEqual({ amount: ['A single payment can be at most 10,000.00.'] });

    // The key stays unused: the same key with an amount at the limit pays, once.
    expect((await pay(url, { amount: 1_000_000, currency: 'EUR', note: 'at the limit' }, key)).status).toBe(200);
    const list = JSON.parse((await curl(url, 'payments.list')).body).result.data.json as {
      key: string;
      amount: number;
    }[];
    expect(list.filter((payment) => payment.key === key).map((payment) => payment.amount)).toEqual([1_000_000]);
    expect(list.some((payment) => payment.amount > 1_000_000)).toBe(false);
  });
});

// The example's own process, as a deployment runs it (node on src/main.ts): a SIGTERM while a payment is in
// flight lets that payment finish, then the process exits.
describe('the hono-fetch example as a process', () => {
  it('on SIGTERM finishes the payment in flight before it exits', async () => {
    const example = await start(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: EXAMPLE_DIR,
      env: { NODE_ENV: 'development' },
    });
    try {
      const paid = await pay(example.url, { amount: 990, currency: 'GBP', note: 'sigterm' }, randomUUID());
      expect(paid.status).toBe(200);
      // The control for the test above: outside production, tRPC does put the stack in an error answer.
      expect((await pay(example.url, { amount: 990, currency: 'GBP' })).body).toContain('"stack"');

      const inFlight = pay(example.url, { amount: 990, currency: 'GBP', note: 'sigterm' }, randomUUID());
      // The handler takes 300 ms: a SIGTERM that comes after it has already answered still proves the exit,
      // and one that comes before the request arrives would not, so wait towards the later side.
      await new Promise((resolve) => setTimeout(resolve, 200));
      example.child.kill('SIGTERM');
      const answer = await inFlight;
      expect(answer.status).toBe(200);
      expect(await example.exited).toBe(0);
      expect(example.output()).not.toMatch(/drain left/);
    } finally {
      killGroup(example);
    }
  }, 40_000);
});
