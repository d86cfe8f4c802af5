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

/** The example's "database" of payments: memory, or a Redis list shared by every process. */
export interface Ledger {
  record(payment: Omit<Payment, 'id' | 'createdAt'>): Promise<Payment>;
  /** The newest 200 payments, newest first. */
  list(): Promise<Payment[]>;
}

const formatId = (n: number) => `pay_${String(n).padStart(4, '0')}`;

/** Payments in this process's memory. */
export function memoryLedger(): Ledger {
  const payments: Payment[] = [];
  return {
    async record(payment) {
      const stored = { ...payment, id: formatId(payments.length + 1), createdAt: new Date() };
      payments.push(stored);
      return stored;
    },
    async list() {
      return payments.slice(-200).reverse();
    },
  };
}

/** Payments in Redis, under `prefix`. */
export function redisLedger(redis: Redis, prefix = 'trpc-idempotency-hono:'): Ledger {
  return {
    async record(payment) {
      const stored = { ...payment, id: formatId(await redis.incr(`${prefix}seq`)), createdAt: new Date() };
      await redis.lpush(`${prefix}payments`, superjson.stringify(stored));
      return stored;
    },
    async list() {
      const rows = await redis.lrange(`${prefix}payments`, 0, 199);
      return rows.map((row) => superjson.parse<Payment>(row));
    },
  };
}
