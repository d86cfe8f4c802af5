/*
 * The I/O that the `*-io` scenarios' handler waits on: a tiny TCP service, in a process of its own as a
 * database would be, that sends back every chunk it reads 1 ms (one Node timer of 1 ms) after reading it.
 * It echoes bytes without parsing them; chunks of one connection come back in order, since Node fires
 * timers of the same delay in the order they were set.
 */
import { type AddressInfo, createServer } from 'node:net';

const server = createServer({ noDelay: true }, (socket) => {
  socket.on('data', (chunk) => {
    setTimeout(() => socket.write(chunk), 1);
  });
  // The server process may go away mid-run; its connection's errors are not the bench's concern.
  socket.on('error', () => {});
});
server.listen(0, '127.0.0.1', () => {
  process.send?.({ port: (server.address() as AddressInfo).port });
});
process.on('disconnect', () => process.exit(0));
