import { describe, expect, it } from 'vitest';
import { DeadlineQueue } from '../../packages/server/src/store/deadlineQueue.js';
import { TimerQueue } from '../../packages/server/src/timerQueue.js';

describe('TimerQueue (one setTimeout for many timers)', () => {
  it('fires every timer that was not taken out, none before its time, in order', async () => {
    const queue = new TimerQueue();
    const start = performance.now();
    const fired: Array<{ id: number; at: number }> = [];
    const timers = [30, 10, 20, 40].map((delay, id) => ({
      dueAt: start + delay,
      fire: () => fired.push({ id, at: performance.now() }),
    }));
    for (const timer of timers) queue.add(timer);
    expect(queue.delete(timers[2]!)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(fired.map((f) => f.id)).toEqual([1, 0, 3]);
    for (const { id, at } of fired) expect(at).toBeGreaterThanOrEqual(timers[id]!.dueAt - 1);
    expect(queue.delete(timers[0]!)).toBe(false);
  });
});

describe('DeadlineQueue', () => {
  it('passes answers and errors through, and fails only the calls that outlive the timeout', async () => {
    const deadlines = new DeadlineQueue(40);
    const timedOut: string[] = [];
    const answered = deadlines.within(
      Promise.resolve('yes'),
      () => new Error('late'),
      (e) => e,
    );
    const failed = deadlines.within(
      Promise.reject(new Error('boom')),
      () => new Error('late'),
      (e) => new Error(`wrapped ${(e as Error).message}`),
    );
    // Counted from before the call: the awaits below may take a while on a loaded machine.
    const started = performance.now();
    const hanging = deadlines.within(
      new Promise<string>(() => {}),
      () => new Error('late'),
      (e) => e,
      () => timedOut.push('hanging'),
    );
    await expect(answered).resolves.toBe('yes');
    await expect(failed).rejects.toThrow('wrapped boom');
    await expect(hanging).rejects.toThrow('late');
    // 40 ms, less a millisecond or two of timer rounding.
    expect(performance.now() - started).toBeGreaterThanOrEqual(38);
    expect(timedOut).toEqual(['hanging']);
  });
});
