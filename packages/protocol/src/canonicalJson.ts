/**
 * Serializes a JSON value with object keys sorted and no whitespace, so that equal values
 * always give equal text, whatever order their keys were written in. Both halves hash this text:
 * the server for the input fingerprint, the client for derived keys.
 *
 * @example
 * canonicalJson({ b: 1, a: [true, null] }) // '{"a":[true,null],"b":1}'
 */
export function canonicalJson(value: unknown): string {
  return write(value, []) ?? 'null';
}

// It runs on every request, so it builds one string by concatenation (no arrays of parts to join) and
// tracks the path from the root in an array: inputs are shallow, and a Set per call costs more.
function write(value: unknown, ancestors: object[]): string | undefined {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? JSON.stringify(value) : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      throw new TypeError('canonicalJson cannot write a BigInt; serialize the value with the transformer first.');
    case 'object':
      break;
    default:
      // undefined, functions and symbols have no JSON form, as in JSON.stringify.
      return undefined;
  }
  if (value === null) return 'null';
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    return write((value as { toJSON: () => unknown }).toJSON(), ancestors);
  }
  if (ancestors.includes(value)) throw new TypeError('canonicalJson cannot write a circular structure.');
  ancestors.push(value);
  let text: string;
  if (Array.isArray(value)) {
    text = '[';
    for (let index = 0; index < value.length; index++) {
      if (index > 0) text += ',';
      text += write(value[index], ancestors) ?? 'null';
    }
    text += ']';
  } else {
    const record = value as Record<string, unknown>;
    const names = Object.keys(record).sort();
    text = '{';
    let first = true;
    for (const name of names) {
      const member = write(record[name], ancestors);
      if (member === undefined) continue;
      text += first ? `${JSON.stringify(name)}:${member}` : `,${JSON.stringify(name)}:${member}`;
      first = false;
    }
    text += '}';
  }
  ancestors.pop();
  return text;
}
