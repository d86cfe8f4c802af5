// Raw HTTP calls of one tRPC mutation (httpLink's wire form), so that the suite sees status codes and headers.
import { transformer } from './app.mjs';

let counter = 0;
/** A key of its own for each case. */
export const newKey = (label) => `compat-${label}-${process.pid}-${++counter}`;

/**
 * POSTs one unbatched mutation with an Idempotency-Key. Resolves with the status, the Idempotent-Replayed
 * header, and the deserialized data or error.
 */
export async function postMutation(url, path, input, key, user = 'alice') {
  const response = await fetch(`${url}/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': key, 'x-user': user },
    body: JSON.stringify(transformer.serialize(input)),
  });
  const body = await response.json();
  return {
    status: response.status,
    replayed: response.headers.get('idempotent-replayed'),
    data: body.result ? transformer.deserialize(body.result.data) : undefined,
    error: body.error ? transformer.deserialize(body.error) : undefined,
  };
}
