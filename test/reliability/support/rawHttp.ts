import { connect } from 'node:net';

/** A raw HTTP answer: the status, the headers (lower-case names) and the body text. */
export interface RawResponse {
  status: number;
  headers: Map<string, string>;
  body: string;
}

/**
 * Sends one HTTP/1.1 request written byte by byte over a socket, so that header values may hold any
 * byte (Node's own client refuses many of them). Each header value is a Buffer or a latin1 string.
 */
export function rawRequest(
  url: string,
  request: { method: string; path: string; headers: Array<[string, Buffer | string]>; body: string },
): Promise<RawResponse> {
  const { hostname, port } = new URL(url);
  const body = Buffer.from(request.body, 'utf8');
  const head = Buffer.concat([
    Buffer.from(`${request.method} ${request.path} HTTP/1.1\r\nHost: ${hostname}:${port}\r\n`, 'latin1'),
    ...request.headers.map(([name, value]) =>
      Buffer.concat([
        Buffer.from(`${name}: `, 'latin1'),
        typeof value === 'string' ? Buffer.from(value, 'latin1') : value,
        Buffer.from('\r\n', 'latin1'),
      ]),
    ),
    Buffer.from(`Content-Length: ${body.length}\r\nConnection: close\r\n\r\n`, 'latin1'),
  ]);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    socket.setTimeout(15_000, () => socket.destroy(new Error('raw request timed out')));
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      try {
        resolve(parseResponse(Buffer.concat(chunks)));
      } catch (error) {
        reject(error);
      }
    });
    // write, not end: a half-closed request socket makes the server drop the answer.
    socket.write(Buffer.concat([head, body]));
  });
}

function parseResponse(raw: Buffer): RawResponse {
  const text = raw.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) throw new Error(`No complete HTTP response: ${JSON.stringify(text.slice(0, 200))}`);
  const [statusLine, ...lines] = text.slice(0, end).split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '')?.[1]);
  if (!status) throw new Error(`Bad status line: ${JSON.stringify(statusLine)}`);
  const headers = new Map<string, string>();
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  let body = raw.subarray(end + 4);
  if (headers.get('transfer-encoding')?.includes('chunked')) body = dechunk(body);
  return { status, headers, body: body.toString('utf8') };
}

function dechunk(body: Buffer): Buffer {
  const parts: Buffer[] = [];
  let offset = 0;
  while (offset < body.length) {
    const lineEnd = body.indexOf('\r\n', offset, 'latin1');
    if (lineEnd < 0) break;
    const length = Number.parseInt(body.subarray(offset, lineEnd).toString('latin1'), 16);
    if (!(length > 0)) break;
    parts.push(body.subarray(lineEnd + 2, lineEnd + 2 + length));
    offset = lineEnd + 2 + length + 2;
  }
  return Buffer.concat(parts);
}
