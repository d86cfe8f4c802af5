import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const EXAMPLE_DIR = fileURLToPath(new URL('../../examples/hono-fetch/', import.meta.url));
const SERVER_BUILD = fileURLToPath(new URL('../../packages/server/dist/index.js', import.meta.url));

// The Hono example as `npm run start:hono` runs it (after the build that `npm test` has just done): its own
// process, on tsx. A SIGTERM while a payment is in flight lets that payment finish, then the process exits.
describe.skipIf(!existsSync(SERVER_BUILD))('the hono-fetch example as a process', () => {
  it('starts with one command, pays, and on SIGTERM finishes the payment in flight before it exits', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: EXAMPLE_DIR,
      env: { ...process.env, PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await expect.poll(() => /running at (\S+)/.test(output), { timeout: 20_000 }).toBe(true);
      const url = /running at (\S+)/.exec(output)![1]!;
      const pay = (key: string) =>
        fetch(`${url}/trpc/payments.create`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'idempotency-key': key },
          body: JSON.stringify({ json: { amount: 990, currency: 'GBP', note: 'sigterm' } }),
        });
      expect((await pay(randomUUID())).status).toBe(200);

      const inFlight = pay(randomUUID());
      await new Promise((resolve) => setTimeout(resolve, 100));
      child.kill('SIGTERM');
      const answer = await inFlight;
      expect(answer.status).toBe(200);
      expect(await exited).toBe(0);
      expect(output).not.toMatch(/drain left/);
    } finally {
      child.kill('SIGKILL');
    }
  }, 40_000);
});
