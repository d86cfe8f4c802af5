/*
 * Literals for the few statements PostgresStore sends as one simple query (several statements in one
 * round trip, which the extended protocol with $1 parameters cannot carry): the claim that also opens
 * the handler's transaction, and the completion that commits it. Only this module writes values into
 * SQL text, the way pg's own `escapeLiteral` does.
 */

/** A string as a SQL literal that is right whatever `standard_conforming_strings` says. */
export function literal(value: string): string {
  if (typeof value !== 'string') throw new TypeError('PostgresStore: expected a string value.');
  if (value.includes('\u0000')) throw new TypeError('PostgresStore: PostgreSQL text cannot hold a NUL character.');
  const quoted = value.replaceAll("'", "''");
  return value.includes('\\') ? `E'${quoted.replaceAll('\\', '\\\\')}'` : `'${quoted}'`;
}

/** A whole number of milliseconds as a SQL literal. */
export function integer(value: number): string {
  if (!Number.isSafeInteger(value) || value < 0) throw new TypeError('PostgresStore: expected a whole number of ms.');
  return String(value);
}
