import net, { type AddressInfo } from 'node:net';

/** A TCP proxy in front of one server, whose traffic can be frozen and thawed. */
export interface TcpProxy {
  host: string;
  port: number;
  /**
   * Stops passing bytes either way, without closing anything: to both ends the link is silent, as
   * when a network partition cuts a holder off from Redis. Bytes sent meanwhile wait in the sockets.
   */
  pause(): void;
  /** Passes the bytes that waited, and every byte after them. */
  resume(): void;
  close(): Promise<void>;
}

/**
 * Starts a proxy on a free port to `target`. A fault a real Redis cannot be made to produce on its own
 * (a silent link while the server stays healthy for everyone else) is made here, between the two.
 */
export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const pairs = new Set<[net.Socket, net.Socket]>();
  // Bytes held while paused, in arrival order, with the socket each is for.
  const held: Array<[net.Socket, Buffer]> = [];
  let paused = false;
  const forward = (to: net.Socket) => (chunk: Buffer) => {
    if (paused) held.push([to, chunk]);
    else if (!to.destroyed) to.write(chunk);
  };
  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    const pair: [net.Socket, net.Socket] = [client, upstream];
    pairs.add(pair);
    client.on('data', forward(upstream));
    upstream.on('data', forward(client));
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    host: '127.0.0.1',
    port,
    pause() {
      paused = true;
    },
    resume() {
      paused = false;
      for (const [to, chunk] of held.splice(0)) if (!to.destroyed) to.write(chunk);
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const [client, upstream] of pairs) {
          client.destroy();
          upstream.destroy();
        }
        server.close(() => resolve());
      }),
  };
}
