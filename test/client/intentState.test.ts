import { describe, expect, it } from 'vitest';
import { type IntentState, isSharedSuccess, reduceIntent } from '../../packages/client/src/intentState.js';

const a1 = { key: 'a', n: 1 };
const b1 = { key: 'b', n: 1 };
const c2 = { key: 'c', n: 2 };

describe("the intent's reducer", () => {
  it.each<[string, IntentState, Parameters<typeof reduceIntent>[1], ReturnType<typeof reduceIntent>]>([
    ['a read takes the stored record', {}, { type: 'read', stored: a1 }, { state: { record: a1 } }],
    ['a read takes the later record', { record: a1 }, { type: 'read', stored: c2 }, { state: { record: c2 } }],
    [
      "a read takes another tab's later record and writes it back",
      { record: a1 },
      { type: 'read', stored: a1, posted: c2 },
      { state: { record: c2 }, save: c2 },
    ],
    [
      'a tie of counts goes to the larger key, written back so every tab agrees',
      { record: b1 },
      { type: 'read', stored: a1 },
      { state: { record: b1 }, save: b1 },
    ],
    [
      'a key made here is saved and posted',
      { record: a1 },
      { type: 'made', record: c2 },
      { state: { record: c2 }, save: c2, post: c2 },
    ],
    [
      'a key made here that another tab has passed meanwhile gives way',
      { record: c2 },
      { type: 'made', record: b1 },
      { state: { record: c2 }, save: c2, post: c2 },
    ],
    [
      'listeners are told of a new key',
      { record: a1, heard: '' },
      { type: 'heard' },
      { state: { record: a1, heard: 'a' }, tell: true },
    ],
    [
      'listeners are not told twice',
      { record: a1, heard: 'a' },
      { type: 'heard' },
      { state: { record: a1, heard: 'a' } },
    ],
  ])('%s', (_, state, action, change) => {
    expect(reduceIntent(state, action)).toEqual(change);
  });

  it('waits for the latest server key only: an older request that ends changes nothing', () => {
    const older = Promise.resolve();
    const latest = Promise.resolve();
    const asking = reduceIntent(reduceIntent({}, { type: 'issuing', request: older }).state, {
      type: 'issuing',
      request: latest,
    }).state;
    expect(reduceIntent(asking, { type: 'issued', request: older }).state.issuing).toBe(latest);
    expect(reduceIntent(asking, { type: 'issued', request: latest }).state.issuing).toBeUndefined();
  });

  it("shares another call's success only for its key, with data, and an equal input when both know theirs", () => {
    const outcome = { type: 'outcome', key: 'k', inputId: '[1]', ok: true, data: 1, hasData: true } as const;
    expect(isSharedSuccess(outcome, 'k', '[1]')).toBe(true);
    expect(isSharedSuccess(outcome, 'k', undefined)).toBe(true);
    expect(isSharedSuccess({ ...outcome, inputId: undefined }, 'k', '[2]')).toBe(true);
    expect(isSharedSuccess(outcome, 'k', '[2]')).toBe(false);
    expect(isSharedSuccess(outcome, 'other', '[1]')).toBe(false);
    expect(isSharedSuccess({ ...outcome, hasData: false }, 'k', '[1]')).toBe(false);
    expect(isSharedSuccess({ type: 'key', record: a1 }, 'k', '[1]')).toBe(false);
  });
});
