import { createServer, type Socket } from 'node:net';

/**
 * Listens on a port that a stopped server left, closing every connection at once, so that nothing
 * else takes the port before the server restarts on it. To a client it looks like a server that is
 * down: each connection is reset. Resolves to a function that gives the port back.
 */
export async function holdPort(port: number): Promise<() => Promise<void>> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    });
}
