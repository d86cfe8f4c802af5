/** What a CALL answers through mysql2: the result sets of the procedure's SELECTs, then a header. */
export type CallResult = [unknown, unknown];

/** The first row of a CALL's first result set: every procedure of the schema answers one row. */
export function firstRow<T>(result: CallResult): T | undefined {
  const sets = result[0];
  const rows = Array.isArray(sets) && Array.isArray(sets[0]) ? (sets[0] as T[]) : undefined;
  return rows?.[0];
}
