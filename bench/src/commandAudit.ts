import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { postOrder } from './load';
import type { ServerHandle } from './serverHandle';
import { fixed, markdownTable } from './table';

/** Exact Redis traffic per request of one kind, read from MONITOR. */
export interface AuditResult {
  kind: 'fresh' | 'replay' | 'conflict';
  requests: number;
  /** Commands the server's client sent, per request. */
  topLevelPerRequest: number;
  /** Commands Redis ran inside scripts (MONITOR marks their source `lua`), per request. */
  insideScriptsPerRequest: number;
  names: string[];
  expected: number;
}

const HOUSEKEEPING = new Set(['info', 'ping', 'select', 'hello', 'command', 'cluster', 'client', 'monitor']);

/**
 * Sends a few sequential requests of each kind while MONITOR watches the single Redis, and counts
 * exactly what the server's client sent (the commandstats figure leaves script-internal calls out by
 * name; this checks that no top-level command hides among them). Too slow for load, so it runs apart.
 */
export async function auditCommands(server: ServerHandle, redisUrl: string, requests = 10): Promise<AuditResult[]> {
  const watcher = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  const monitor = await watcher.monitor();
  const seen: Array<{ name: string; source: string }> = [];
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    seen.push({ name: String(args[0]).toLowerCase(), source: String(source) });
  });
  const settle = async () => {
    let count = -1;
    while (count !== seen.length) {
      count = seen.length;
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
  };
  const measure = async (kind: AuditResult['kind'], expected: number, send: () => Promise<void>) => {
    await settle();
    const from = seen.length;
    await send();
    await settle();
    const window = seen.slice(from).filter((line) => !HOUSEKEEPING.has(line.name.split('|')[0]!));
    const topLevel = window.filter((line) => line.source !== 'lua');
    return {
      kind,
      requests,
      topLevelPerRequest: topLevel.length / requests,
      insideScriptsPerRequest: (window.length - topLevel.length) / requests,
      names: [...new Set(topLevel.map((line) => line.name))],
      expected,
    };
  };
  try {
    const results: AuditResult[] = [];
    results.push(
      await measure('fresh', 2, async () => {
        for (let i = 0; i < requests; i++) await postOrder(server.url, 'redis', `audit-${randomUUID()}`);
      }),
    );
    const replayKey = `audit-${randomUUID()}`;
    await postOrder(server.url, 'redis', replayKey);
    results.push(
      await measure('replay', 1, async () => {
        for (let i = 0; i < requests; i++) await postOrder(server.url, 'redis', replayKey);
      }),
    );
    const conflictKey = `audit-${randomUUID()}`;
    const holder = postOrder(server.url, 'conflict', conflictKey);
    while ((await server.stats()).waiting === 0) await new Promise((resolve) => setTimeout(resolve, 20));
    results.push(
      await measure('conflict', 1, async () => {
        for (let i = 0; i < requests; i++) await postOrder(server.url, 'conflict', conflictKey);
      }),
    );
    await server.openGate();
    await holder;
    return results;
  } finally {
    monitor.disconnect();
    watcher.disconnect();
  }
}

/** What the audit found, as a table. */
export function auditTable(results: AuditResult[]): string {
  return markdownTable(
    ['request kind', 'requests', 'top-level cmds/req', 'names', 'in-script cmds/req', 'expected'],
    results.map((result) => [
      result.kind,
      String(result.requests),
      fixed(result.topLevelPerRequest, 2),
      result.names.join(', '),
      fixed(result.insideScriptsPerRequest, 2),
      String(result.expected),
    ]),
    ['l', 'r', 'r', 'l', 'r', 'r'],
  );
}
