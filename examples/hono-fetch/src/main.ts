import { drainIdempotency } from '@trpc-idempotency/server';
import { startHonoExample } from './app.js';

const port = Number(process.env.PORT ?? 3001);
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
  console.error(`PORT must be a port number, got "${process.env.PORT}".`);
  process.exit(1);
}

const example = await startHonoExample({ port, hostname: process.env.HOST, redisUrl: process.env.REDIS_URL }).catch(
  (error: NodeJS.ErrnoException) => {
    console.error(error.code === 'EADDRINUSE' ? `Port ${port} is in use: PORT=3002 npm run start:hono` : error);
    process.exit(1);
  },
);
console.log(`trpc-idempotency Hono example (${example.backend} store) is running at ${example.url}`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, async () => {
    // Payments in flight finish and settle their keys; new ones get 503 SERVER_DRAINING and retry elsewhere.
    const report = await drainIdempotency({ timeoutMs: 10_000 });
    if (report.released.length + report.unsettled.length > 0) console.warn('Idempotency drain left:', report);
    await example.close();
    process.exit(0);
  });
}
