import { startExampleServer } from './exampleServer.js';

const port = Number(process.env.PORT ?? 3000);
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
  console.error(`PORT must be a port number, got "${process.env.PORT}".`);
  process.exit(1);
}

const server = await startExampleServer({ port, host: process.env.HOST, redisUrl: process.env.REDIS_URL });
console.log(`trpc-idempotency example (${server.backend} store) is running at ${server.url}`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void server.close().finally(() => process.exit(0));
  });
}
