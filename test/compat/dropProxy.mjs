// An HTTP proxy in front of the app that loses the answer of the first keyed request: it forwards the
// request, waits until the server has answered in full (the outcome is committed by then), then destroys the
// client's connection without sending a byte of it. Every other request passes.
import http from 'node:http';

export async function startDropProxy(target) {
  const upstream = new URL(target);
  /** Every request seen: its Idempotency-Key and what became of its answer ('dropped' or 'sent'). */
  const seen = [];
  let dropped = false;
  const server = http.createServer((req, res) => {
    const key = req.headers['idempotency-key'];
    const entry = { key, end: 'pending' };
    seen.push(entry);
    const forward = http.request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: upstream.host },
      },
      (answer) => {
        const chunks = [];
        answer.on('data', (chunk) => chunks.push(chunk));
        answer.on('end', () => {
          if (key !== undefined && !dropped) {
            dropped = true;
            entry.end = 'dropped';
            req.socket.destroy();
            return;
          }
          entry.end = 'sent';
          res.writeHead(answer.statusCode, answer.headers);
          res.end(Buffer.concat(chunks));
        });
      },
    );
    forward.on('error', () => req.socket.destroy());
    req.pipe(forward);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
