import { idempotencyErrorFormatter } from '@trpc-idempotency/server';
import { ZodError, z } from 'zod';

/**
 * The router's error shape: `data.idempotency` tells the SDK's own answers apart, and an input zod refused
 * gets its problems in words in `message` and by field in `data.zodError`.
 *
 * Whether an answer carries `data.stack` is tRPC's choice, not this function's: tRPC adds it only when the
 * router's `isDev` is true, which by default means `NODE_ENV` is not `production`. `npm run start:hono`
 * runs the example with `NODE_ENV=production`.
 */
export function paymentErrorFormatter<TShape extends { message: string; data: object }>(opts: {
  shape: TShape;
  error: { code: string; cause?: unknown };
}) {
  const shape = idempotencyErrorFormatter(opts);
  const { cause } = opts.error;
  if (opts.error.code !== 'BAD_REQUEST' || !(cause instanceof ZodError)) {
    return { ...shape, data: { ...shape.data, zodError: null } };
  }
  const problems = cause.issues.map((issue) => `${issue.path.join('.') || 'input'}: ${issue.message}`);
  return {
    ...shape,
    message: `The input was not accepted. ${problems.join(' ')}`,
    data: { ...shape.data, zodError: z.flattenError(cause) },
  };
}
