/*
 * The load generator's client: one keyed tRPC mutation over plain HTTP, and a retry loop that keeps
 * docs/protocol.md §4 (same key and same input every attempt; retry network failures, its own timeout,
 * 409 IN_PROGRESS and 503, honouring retryAfterMs up to the cap; exponential backoff with jitter).
 * It is written here rather than taken from @trpc-idempotency/client because the scenarios must
 * classify every single attempt's answer, and spread the attempts over several server processes.
 */
import superjson from 'superjson';

/** One attempt's answer, sorted into the kinds the scenarios count. */
export type Answer =
  | { kind: 'ok'; status: number; data: any; replayed: boolean }
  /** A typed idempotency answer that a client retries: 409 IN_PROGRESS, 503 STORE_UNAVAILABLE or SERVER_DRAINING. */
  | {
      kind: 'typed';
      status: number;
      code: 'IN_PROGRESS' | 'STORE_UNAVAILABLE' | 'SERVER_DRAINING';
      retryAfterMs: number;
    }
  /** Another tRPC error: a 4xx the client caused, or a 500. */
  | { kind: 'error'; status: number; code: string | undefined; idempotencyCode: string | undefined; message: string }
  | { kind: 'timeout' }
  | { kind: 'network'; message: string };

/** Who sends, where, what, and with which key. */
export interface MutationCall {
  url: string;
  path: string;
  input: unknown;
  key: string;
  user: string;
  timeoutMs: number;
  /** More request headers, such as `prefer: wait=10`. */
  headers?: Record<string, string>;
}

/** Sends one attempt of a keyed mutation and sorts its answer. */
export async function attempt(call: MutationCall): Promise<Answer> {
  let response: Response;
  let text: string;
  try {
    response = await fetch(`${call.url}/${call.path}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'idempotency-key': call.key,
        'x-user': call.user,
        ...call.headers,
      },
      body: JSON.stringify(superjson.serialize(call.input)),
      signal: AbortSignal.timeout(Math.max(1, Math.round(call.timeoutMs))),
    });
    text = await response.text();
  } catch (error) {
    const name = (error as Error)?.name;
    if (name === 'TimeoutError' || name === 'AbortError') return { kind: 'timeout' };
    return { kind: 'network', message: String((error as Error)?.cause ?? error) };
  }
  return classify(response.status, response.headers, text);
}

/** Sorts a tRPC HTTP answer (status, headers, body text) into an {@link Answer}. */
export function classify(status: number, headers: { get(name: string): string | null }, text: string): Answer {
  let body: { result?: { data: unknown }; error?: unknown } | undefined;
  try {
    body = JSON.parse(text);
  } catch {
    return { kind: 'error', status, code: undefined, idempotencyCode: undefined, message: text.slice(0, 200) };
  }
  if (body?.result) {
    const data = superjson.deserialize(body.result.data as any);
    return { kind: 'ok', status, data, replayed: headers.get('idempotent-replayed') === 'true' };
  }
  const error = superjson.deserialize(body?.error as any) as {
    message?: string;
    data?: { code?: string; idempotency?: { code: string; retryAfterMs?: number } | null };
  };
  const idempotencyCode = error?.data?.idempotency?.code;
  if (
    (status === 409 && idempotencyCode === 'IN_PROGRESS') ||
    (status === 503 && (idempotencyCode === 'STORE_UNAVAILABLE' || idempotencyCode === 'SERVER_DRAINING'))
  ) {
    return { kind: 'typed', status, code: idempotencyCode, retryAfterMs: error.data?.idempotency?.retryAfterMs ?? 0 };
  }
  return { kind: 'error', status, code: error?.data?.code, idempotencyCode, message: error?.message ?? '' };
}

/** How a caller retries. */
export interface RetryPolicy {
  attempts: number;
  baseMs: number;
  capMs: number;
  /** Each attempt's own timeout, drawn anew per attempt. */
  timeoutMs: () => number;
  /** Retry a 5xx as well, as @trpc-idempotency/client does (docs/protocol.md §4). Off: a 5xx ends the call. */
  retryServerErrors?: boolean;
}

/** What one caller of an intent saw, attempt by attempt. */
export interface CallerOutcome {
  final: Answer;
  answers: Answer[];
  /** When each answer arrived, in `performance.now()` ms. */
  times: number[];
}

const retryable = (answer: Answer, policy: RetryPolicy) =>
  answer.kind === 'typed' ||
  answer.kind === 'timeout' ||
  answer.kind === 'network' ||
  (policy.retryServerErrors === true && answer.kind === 'error' && answer.status >= 500);

/**
 * Sends an intent until it succeeds, gets an answer that must not be retried, or runs out of
 * attempts. `pickUrl` chooses the server process of each attempt.
 */
export async function callWithRetries(
  call: Omit<MutationCall, 'url' | 'timeoutMs'>,
  pickUrl: (attemptNumber: number) => string,
  policy: RetryPolicy,
): Promise<CallerOutcome> {
  const answers: Answer[] = [];
  const times: number[] = [];
  for (let n = 1; ; n++) {
    const answer = await attempt({ ...call, url: pickUrl(n), timeoutMs: policy.timeoutMs() });
    answers.push(answer);
    times.push(performance.now());
    if (!retryable(answer, policy) || n >= policy.attempts) return { final: answer, answers, times };
    const backoff = Math.min(policy.capMs, policy.baseMs * 2 ** (n - 1));
    const hinted = answer.kind === 'typed' ? Math.min(policy.capMs, answer.retryAfterMs) : 0;
    const delay = Math.max(hinted, backoff / 2 + (Math.random() * backoff) / 2);
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}

/** Runs `tasks` with at most `limit` of them at once. */
export async function inBatches<T>(count: number, limit: number, task: (index: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const index = next++;
      results[index] = await task(index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker));
  return results;
}
