import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { postMutation, startTestApp, type TestApp } from '../support/app.js';
import { backends, newKey, type OpenBackend } from '../support/backends.js';

/**
 * Records every top-level command that reaches the given nodes and names one of this test's records.
 * MONITOR shows commands run inside a Lua script as coming from "lua"; those are part of one call, so they
 * are left out. Other test files share these servers, so only commands that name this test's prefix count.
 */
async function monitorCalls(ports: number[], prefix: string) {
  const calls: string[][] = [];
  const clients = ports.map((port) => new Redis(port, '127.0.0.1'));
  const monitors = await Promise.all(clients.map((client) => client.monitor()));
  for (const monitor of monitors) {
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      if (source !== 'lua' && args.some((arg) => arg.startsWith(prefix))) calls.push(args);
    });
  }
  return {
    async take(): Promise<string[][]> {
      // A marker command through each monitored node proves every earlier command was already seen.
      await Promise.all(clients.map((client) => client.ping(`${prefix}marker`)));
      await new Promise((resolve) => setTimeout(resolve, 50));
      const taken = calls.filter((args) => !args.includes(`${prefix}marker`));
      calls.length = 0;
      return taken;
    },
    close() {
      for (const connection of [...monitors, ...clients]) connection.disconnect();
    },
  };
}

describe.each(backends().filter((backend) => backend.name.startsWith('Redis')))(
  'Redis calls per request on $name',
  (backend) => {
    let open: OpenBackend;
    let app: TestApp;
    beforeAll(async () => {
      open = await backend.create();
      app = await startTestApp({ store: open.store });
      // The first script call on a connection may load the script; warm every connection up first.
      for (let i = 0; i < 20; i++)
        await postMutation(
          app.url,
          'orders.create',
          { item: 'warm-up' },
          { 'idempotency-key': newKey(), 'x-user': 'ann' },
        );
    });
    afterAll(async () => {
      await app.close();
      await open.close();
    });

    function ports(): number[] {
      if (backend.name === 'Redis Cluster') return inject('redisCluster')!.map((node) => node.port);
      return [Number(new URL(inject('redisUrl')).port)];
    }

    it('costs 2 calls for a fresh request (claim, complete), 1 for a replay, 1 for a conflict and 1 for a mismatch', async () => {
      const monitor = await monitorCalls(ports(), open.prefix);
      try {
        const key = newKey();
        const headers = { 'idempotency-key': key, 'x-user': 'ann' };
        await monitor.take();

        expect((await postMutation(app.url, 'orders.create', { item: 'lamp' }, headers)).status).toBe(200);
        const fresh = await monitor.take();
        expect(fresh.map((args) => args[0]?.toLowerCase())).toEqual(['evalsha', 'evalsha']);

        expect(
          (await postMutation(app.url, 'orders.create', { item: 'lamp' }, headers)).headers.get('idempotent-replayed'),
        ).toBe('true');
        expect(await monitor.take()).toHaveLength(1);

        expect((await postMutation(app.url, 'orders.create', { item: 'sofa' }, headers)).status).toBe(422);
        expect(await monitor.take()).toHaveLength(1);

        const slowKey = newKey();
        const slow = postMutation(
          app.url,
          'orders.create',
          { item: 'lamp', sleepMs: 400 },
          { ...headers, 'idempotency-key': slowKey },
        );
        await new Promise((resolve) => setTimeout(resolve, 150));
        await monitor.take();
        expect(
          (
            await postMutation(
              app.url,
              'orders.create',
              { item: 'lamp', sleepMs: 400 },
              { ...headers, 'idempotency-key': slowKey },
            )
          ).status,
        ).toBe(409);
        expect(await monitor.take()).toHaveLength(1);
        await slow;
      } finally {
        await monitor.close();
      }
    });
  },
);
