import { fork } from 'node:child_process';
import { once } from 'node:events';
import { createConnection } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
/** One request and its answer on the wire: a 4-byte id, so that answers need no order to find their caller. */
const FRAME_BYTES = 4;

/** The echo service of ioEchoProcess.ts, running. */
export interface EchoService {
  port: number;
  stop(): void;
}

/** Forks the echo service (through tsx) and waits until it listens. */
export async function startEchoService(): Promise<EchoService> {
  const child = fork(join(here, 'ioEchoProcess.ts'), [], {
    // Set, not inherited: the server process's --cpu-prof must not profile the echo service too.
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const [message] = (await Promise.race([
    once(child, 'message'),
    once(child, 'exit').then(([code]) => {
      throw new Error(`the I/O echo service exited early with code ${code}`);
    }),
  ])) as [{ port: number }];
  return { port: message.port, stop: () => child.kill() };
}

/** One connection to the echo service, shared by every request, as a database client's connection would be. */
export interface EchoClient {
  /** Sends a frame and resolves when the service has sent it back, 1 ms or a little more later. */
  roundTrip(): Promise<void>;
  close(): void;
}

/** Connects to the echo service. */
export async function connectEcho(port: number): Promise<EchoClient> {
  const socket = createConnection({ host: '127.0.0.1', port, noDelay: true });
  await once(socket, 'connect');
  const waiting = new Map<number, () => void>();
  let lastId = 0;
  let rest: Buffer = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    const data = rest.length > 0 ? Buffer.concat([rest, chunk]) : chunk;
    let at = 0;
    for (; at + FRAME_BYTES <= data.length; at += FRAME_BYTES) {
      const id = data.readUInt32BE(at);
      waiting.get(id)?.();
      waiting.delete(id);
    }
    rest = data.subarray(at);
  });
  return {
    roundTrip() {
      lastId = (lastId + 1) >>> 0;
      const id = lastId;
      const frame = Buffer.allocUnsafe(FRAME_BYTES);
      frame.writeUInt32BE(id);
      return new Promise<void>((resolve) => {
        waiting.set(id, resolve);
        socket.write(frame);
      });
    },
    close: () => socket.destroy(),
  };
}
