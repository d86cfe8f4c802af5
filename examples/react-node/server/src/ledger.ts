import type { Redis } from 'ioredis';
import superjson from 'superjson';

/** One payment as the ledger keeps it. `amount` is in minor units (cents). */
export interface Payment {
  id: string;
  amount: number;
  currency: string;
  note: string;
  /** The idempotency key of the intent that made this payment. */
  key: string;
  /** The fence the handler held when it wrote the payment. */
  fence: number;
  createdAt: Date;
}

/** What the handler asks the ledger to record. */
export type NewPayment = Omit<Payment, 'id' | 'createdAt'>;

/**
 * The example's "database" of payments. It is deliberately naive (no unique constraint on the key),
 * so that the page shows the idempotency layer, not the database, keeping payments single.
 */
export interface Ledger {
  readonly kind: 'memory' | 'redis';
  record(payment: NewPayment): Promise<Payment>;
  /** Every payment, newest first. */
  list(): Promise<Payment[]>;
}

const formatId = (n: number) => `pay_${String(n).padStart(4, '0')}`;

/** Keeps payments in this process; they are gone when it stops. */
export class MemoryLedger implements Ledger {
  readonly kind = 'memory' as const;
  readonly #payments: Payment[] = [];

  async record(payment: NewPayment): Promise<Payment> {
    const stored = { ...payment, id: formatId(this.#payments.length + 1), createdAt: new Date() };
    this.#payments.push(stored);
    return stored;
  }

  async list(): Promise<Payment[]> {
    return [...this.#payments].reverse();
  }
}

/** Keeps payments in Redis, so several server processes share one ledger. */
export class RedisLedger implements Ledger {
  readonly kind = 'redis' as const;
  readonly #redis: Redis;
  readonly #listKey: string;
  readonly #seqKey: string;

  constructor(redis: Redis, prefix = 'trpc-idempotency-example:') {
    this.#redis = redis;
    this.#listKey = `${prefix}payments`;
    this.#seqKey = `${prefix}payments:seq`;
  }

  async record(payment: NewPayment): Promise<Payment> {
    const n = await this.#redis.incr(this.#seqKey);
    const stored = { ...payment, id: formatId(n), createdAt: new Date() };
    await this.#redis.lpush(this.#listKey, superjson.stringify(stored));
    return stored;
  }

  async list(): Promise<Payment[]> {
    const rows = await this.#redis.lrange(this.#listKey, 0, 199);
    return rows.map((row) => superjson.parse<Payment>(row));
  }
}
