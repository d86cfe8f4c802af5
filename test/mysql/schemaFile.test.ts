import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { schemaSql } from '@trpc-idempotency/mysql';
import { describe, expect, it } from 'vitest';

const shipped = fileURLToPath(new URL('../../packages/mysql/sql/trpc_idempotency.sql', import.meta.url));

describe('the SQL the mysql package ships', () => {
  it('is what createSchema() runs for the default table (UPDATE_SQL=1 rewrites it)', () => {
    if (process.env.UPDATE_SQL === '1') writeFileSync(shipped, schemaSql());
    expect(readFileSync(shipped, 'utf8')).toBe(schemaSql());
  });
});
