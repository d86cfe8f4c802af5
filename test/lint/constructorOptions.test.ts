import * as api from '@opentelemetry/api';
import { createIdempotentClient, createIntent, idempotencyLink } from '@trpc-idempotency/client';
import { openTelemetry as clientOpenTelemetry } from '@trpc-idempotency/client/opentelemetry';
import { PostgresStore } from '@trpc-idempotency/postgres';
import {
  createIdempotency,
  createKeyIssuer,
  drainIdempotency,
  MemoryStore,
  RedisStore,
} from '@trpc-idempotency/server';
import { openTelemetry } from '@trpc-idempotency/server/opentelemetry';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';

// Issue 22: every public constructor checks its options one way: an unknown (misspelt) option and an
// impossible value are each refused with a TypeError that names the option. Nothing here connects anywhere.
const redis = new Redis({ lazyConnect: true });
const pool = new pg.Pool();
const store = new MemoryStore();
const secret = 'x'.repeat(32);
const base = { store, scope: 'global' as const, serializer: 'json' as const };

type Case = [name: string, build: (options: Record<string, unknown>) => unknown, valid: Record<string, unknown>];
const constructors: Case[] = [
  ['createIdempotency', (o) => createIdempotency(o as never), base],
  ['new MemoryStore', (o) => new MemoryStore(o as never).close(), {}],
  ['new RedisStore', (o) => new RedisStore(o as never), { redis }],
  ['createKeyIssuer', (o) => createKeyIssuer(o as never), { secret, scope: 'global' }],
  ['new PostgresStore', (o) => new PostgresStore(o as never), { pool }],
  ['openTelemetry', (o) => openTelemetry(o as never), { api }],
  ['createIdempotentClient', (o) => createIdempotentClient(o as never), { url: 'http://127.0.0.1:1/trpc' }],
  ['idempotencyLink', (o) => idempotencyLink(o as never), {}],
  ['createIntent', (o) => createIntent(o as never), {}],
  ['client openTelemetry', (o) => clientOpenTelemetry(o as never), { api }],
];

const misspelt: Record<string, [given: Record<string, unknown>, named: string]> = {
  createIdempotency: [{ leaseMS: 100 }, 'leaseMS'],
  'new MemoryStore': [{ sweepIntervalMS: 10 }, 'sweepIntervalMS'],
  'new RedisStore': [{ timeoutMS: 5 }, 'timeoutMS'],
  createKeyIssuer: [{ ttlMS: 1000 }, 'ttlMS'],
  'new PostgresStore': [{ timeoutMS: 5 }, 'timeoutMS'],
  openTelemetry: [{ meterprovider: {} }, 'meterprovider'],
  createIdempotentClient: [{ batchkeyed: true }, 'batchkeyed'],
  idempotencyLink: [{ maxDelayMS: 10 }, 'maxDelayMS'],
  createIntent: [{ storag: 'local' }, 'storag'],
  'client openTelemetry': [{ tracerprovider: {} }, 'tracerprovider'],
};

const impossible: Record<string, [given: Record<string, unknown>, named: string]> = {
  // A lease shorter than its own abort margin allows: its signal would abort although every renewal succeeds.
  createIdempotency: [{ leaseMs: 30 }, 'leaseMs'],
  'new MemoryStore': [{ sweepIntervalMs: 0 }, 'sweepIntervalMs'],
  'new RedisStore': [{ timeoutMs: -1 }, 'timeoutMs'],
  createKeyIssuer: [{ ttlMs: 10 }, 'ttlMs'],
  'new PostgresStore': [{ timeoutMs: 0 }, 'timeoutMs'],
  openTelemetry: [{ tracerProvider: 'global' }, 'tracerProvider'],
  createIdempotentClient: [{ batchKeyed: 'yes' }, 'batchKeyed'],
  idempotencyLink: [{ attempts: 0 }, 'attempts'],
  createIntent: [{ storageKey: '' }, 'storageKey'],
  'client openTelemetry': [{ tracerProvider: 42 }, 'tracerProvider'],
};

afterAll(async () => {
  store.close();
  redis.disconnect();
  await pool.end();
});

describe.each(constructors)('%s', (name, build, valid) => {
  it('builds with valid options', () => {
    expect(() => build(valid)).not.toThrow();
  });

  it('refuses a misspelt option, naming it and the option it most likely meant', () => {
    const [given, named] = misspelt[name]!;
    expect(() => build({ ...valid, ...given })).toThrow(TypeError);
    expect(() => build({ ...valid, ...given })).toThrow(`unknown option "${named}"`);
    expect(() => build({ ...valid, ...given })).toThrow(/did you mean "\w+"\?/);
  });

  it('refuses an impossible value, naming the option', () => {
    const [given, named] = impossible[name]!;
    expect(() => build({ ...valid, ...given })).toThrow(TypeError);
    expect(() => build({ ...valid, ...given })).toThrow(`option "${named}"`);
  });
});

describe('drainIdempotency', () => {
  it('refuses a misspelt option and an impossible value, naming them', async () => {
    await expect(drainIdempotency({ timeoutMS: 10 } as never)).rejects.toThrow('unknown option "timeoutMS"');
    await expect(drainIdempotency({ timeoutMs: -1 })).rejects.toThrow('option "timeoutMs"');
  });
});

describe('the per-call and nested options', () => {
  it('refuses a misspelt retry setting under createIdempotentClient({ idempotency })', () => {
    expect(() => createIdempotentClient({ url: 'http://127.0.0.1:1', idempotency: { attemps: 3 } as never })).toThrow(
      'unknown option "attemps" (did you mean "attempts"?)',
    );
  });
});

describe('one message for every problem', () => {
  it('names each bad option of one call', () => {
    expect(() => createIdempotency({ ...base, leaseMs: 1.5, namespace: '', retentionMS: 1 } as never)).toThrow(
      /createIdempotency: unknown option "retentionMS" \(did you mean "retentionMs"\?\); option "leaseMs" .*; option "namespace" must be a non-empty string\./,
    );
  });
});
