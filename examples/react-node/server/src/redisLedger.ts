import type { Redis } from 'ioredis';
import superjson from 'superjson';
import {
  formatPaymentId,
  type Ledger,
  LIST_LIMIT,
  type NewPayment,
  type Payment,
  type RefusedWrite,
  refusalOf,
  StaleFenceError,
} from './ledger.js';

/**
 * Records one payment with the fence check, in one atomic step.
 *
 * KEYS: 1 the payments list, 2 the payment counter, 3 the hash of the newest fence per intent key,
 *       4 the list of refused writes.
 * ARGV: 1 the intent key, 2 the write's fence, 3 the payment without its id (superjson),
 *       4 the refusal without its newest fence (superjson), 5 how many payments to keep, 6 how many refusals.
 * Reply: `{'recorded', n}` with the payment's number, or `{'refused', newestFence}`.
 * Entries are `<id>\t<payment>` and `<newestFence>\t<refusal>`, so the script never parses JSON.
 */
const RECORD_PAYMENT_SCRIPT = `
local fence = tonumber(ARGV[2])
local newest = tonumber(redis.call('HGET', KEYS[3], ARGV[1]) or '0')
if fence < newest then
  redis.call('LPUSH', KEYS[4], newest .. '\\t' .. ARGV[4])
  redis.call('LTRIM', KEYS[4], 0, tonumber(ARGV[6]) - 1)
  return {'refused', newest}
end
redis.call('HSET', KEYS[3], ARGV[1], fence)
local n = redis.call('INCR', KEYS[2])
redis.call('LPUSH', KEYS[1], n .. '\\t' .. ARGV[3])
redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[5]) - 1)
return {'recorded', n}
`;

type RecordReply = ['recorded' | 'refused', number];

interface LedgerCommands {
  brewlineRecordPayment(
    payments: string,
    counter: string,
    fences: string,
    refusals: string,
    key: string,
    fence: number,
    payment: string,
    refusal: string,
    keepPayments: number,
    keepRefusals: number,
  ): Promise<RecordReply>;
}

/** Keeps payments in Redis, so several server processes share one ledger. */
export class RedisLedger implements Ledger {
  readonly kind = 'redis' as const;
  readonly #redis: Redis & LedgerCommands;
  readonly #keys: { payments: string; counter: string; fences: string; refusals: string };

  /** `redis` should fail fast when Redis is down (see redisBackends.ts): the page asks the ledger every second. */
  constructor(redis: Redis, prefix = 'trpc-idempotency-example:') {
    redis.defineCommand('brewlineRecordPayment', { numberOfKeys: 4, lua: RECORD_PAYMENT_SCRIPT });
    this.#redis = redis as Redis & LedgerCommands;
    this.#keys = {
      payments: `${prefix}payments`,
      counter: `${prefix}payments:seq`,
      fences: `${prefix}payments:fences`,
      refusals: `${prefix}payments:refused`,
    };
  }

  async record(payment: NewPayment): Promise<Payment> {
    const createdAt = new Date();
    const refusal = refusalOf(payment, 0, createdAt);
    const { payments, counter, fences, refusals } = this.#keys;
    const [status, n] = await this.#redis.brewlineRecordPayment(
      payments,
      counter,
      fences,
      refusals,
      payment.key,
      payment.fence,
      superjson.stringify({ ...payment, createdAt }),
      superjson.stringify(refusal),
      LIST_LIMIT.payments,
      LIST_LIMIT.refusals,
    );
    if (status === 'refused') throw new StaleFenceError({ ...refusal, newestFence: Number(n) });
    return { ...payment, id: formatPaymentId(Number(n)), createdAt };
  }

  async list(): Promise<Payment[]> {
    const rows = await this.#redis.lrange(this.#keys.payments, 0, LIST_LIMIT.payments - 1);
    return rows.map((row) => {
      const [n, payment] = splitEntry(row);
      return { ...superjson.parse<NewPayment & { createdAt: Date }>(payment), id: formatPaymentId(n) };
    });
  }

  async refusals(): Promise<RefusedWrite[]> {
    const rows = await this.#redis.lrange(this.#keys.refusals, 0, LIST_LIMIT.refusals - 1);
    return rows.map((row) => {
      const [newestFence, refusal] = splitEntry(row);
      // This ledger only ever refuses (entries written before `how` existed lack it).
      return { ...superjson.parse<RefusedWrite>(refusal), how: 'refused' as const, newestFence };
    });
  }
}

function splitEntry(row: string): [number, string] {
  const tab = row.indexOf('\t');
  return [Number(row.slice(0, tab)), row.slice(tab + 1)];
}
