import { randomUUID } from 'node:crypto';
import { postOrder } from './load';
import type { BenchPostgres } from './postgresSetup';
import type { ServerHandle } from './serverHandle';
import { fixed, markdownTable } from './table';

/** Exact PostgreSQL traffic per request of one kind, from pg_stat_statements and the server's query count. */
export interface PostgresAuditResult {
  kind: string;
  requests: number;
  statementsPerRequest: number;
  roundTripsPerRequest: number;
  /** Each statement text (normalized by pg_stat_statements) with its calls per request. */
  statements: Array<[string, number]>;
}

/**
 * Sends a few sequential requests of each kind with nothing else running, and counts exactly what
 * PostgreSQL ran (top-level statements, pg_stat_statements) and how many queries the server's pg clients
 * sent (each one round trip). The figures under load may differ by the requests cut at a window's edge.
 */
export async function auditPostgres(
  server: ServerHandle,
  postgres: BenchPostgres,
  requests = 10,
): Promise<PostgresAuditResult[]> {
  const measure = async (kind: string, send: () => Promise<void>): Promise<PostgresAuditResult> => {
    await postgres.resetStatements();
    const before = await server.stats();
    await send();
    const after = await server.stats();
    const { total, byQuery } = await postgres.statements();
    return {
      kind,
      requests,
      statementsPerRequest: total / requests,
      roundTripsPerRequest: (after.pgRoundTrips - before.pgRoundTrips) / requests,
      statements: Object.entries(byQuery).map(([query, calls]) => [query, calls / requests]),
    };
  };
  const sequential = (path: string, key: () => string) => async () => {
    for (let i = 0; i < requests; i++) {
      const status = await postOrder(server.url, path, key());
      if (status !== 200) throw new Error(`audit request to ${path} answered ${status}`);
    }
  };
  const replayKey = `audit-${randomUUID()}`;
  await postOrder(server.url, 'pg', replayKey);
  return [
    await measure(
      'plain write (no idempotency)',
      sequential('pgPlainWrite', () => 'unused'),
    ),
    await measure(
      'fresh',
      sequential('pg', () => `audit-${randomUUID()}`),
    ),
    await measure(
      'replay',
      sequential('pg', () => replayKey),
    ),
    await measure(
      'transactional fresh',
      sequential('pgTx', () => `audit-${randomUUID()}`),
    ),
  ];
}

/** What the audit found, as a table. */
export function postgresAuditTable(results: PostgresAuditResult[]): string {
  return markdownTable(
    ['request kind', 'requests', 'statements/req', 'round trips/req', 'statements'],
    results.map((result) => [
      result.kind,
      String(result.requests),
      fixed(result.statementsPerRequest, 2),
      fixed(result.roundTripsPerRequest, 2),
      result.statements.map(([query, calls]) => `${calls}× ${query}`).join('; '),
    ]),
    ['l', 'r', 'r', 'r', 'l'],
  );
}
