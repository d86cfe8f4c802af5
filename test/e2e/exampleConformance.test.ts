import { startHonoExample } from '../../examples/hono-fetch/src/app.js';
import { startExampleServer } from '../../examples/react-node/server/src/exampleServer.js';
import { describeExampleConformance } from './support/conformance.js';

// Both examples keep the same HTTP contract: the Node one on tRPC's standalone adapter, the Hono one on
// its fetch adapter. Each is started in this process on a free port, in memory and on the test Redis.

describeExampleConformance('the react-node example (Node adapter)', async ({ redisUrl }) => {
  const server = await startExampleServer({ port: 0, ...(redisUrl ? { redisUrl } : {}) });
  // Loopback by address: "localhost" may resolve to ::1 first, where the server does not listen.
  return { ...server, url: server.url.replace('//localhost:', '//127.0.0.1:') };
});

describeExampleConformance('the hono-fetch example (fetch adapter)', ({ redisUrl }) =>
  startHonoExample({ port: 0, ...(redisUrl ? { redisUrl } : {}) }),
);
