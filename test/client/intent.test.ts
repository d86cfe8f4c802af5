import { createIntent, type KeyStorage } from '@trpc-idempotency/client';
import { type IdempotencyKeyHandle, useIdempotencyKey } from '@trpc-idempotency/client/react';
import { createElement } from 'react';
import { renderToString } from 'react-dom/server';
import { describe, expect, it } from 'vitest';

/** A Storage stand-in: Node 20 has no sessionStorage. Browsers' own storage is exercised by the example app. */
function memoryStorage(): KeyStorage & { entries: Map<string, string> } {
  const entries = new Map<string, string>();
  return {
    entries,
    getItem: (name) => entries.get(name) ?? null,
    setItem: (name, value) => void entries.set(name, value),
    removeItem: (name) => void entries.delete(name),
  };
}

describe('createIntent', () => {
  it('keeps one key until rotated, and gives a new one after', () => {
    const intent = createIntent();
    const first = intent.key;
    expect(intent.key).toBe(first);
    expect(intent.options()).toEqual({ context: { idempotencyKey: first } });
    const second = intent.rotate();
    expect(second).not.toBe(first);
    expect(intent.key).toBe(second);
  });

  it('survives a reload through storage, per storage key, and rotates the stored key', () => {
    const storage = memoryStorage();
    const checkout = createIntent({ storage, storageKey: 'checkout' });
    const profile = createIntent({ storage, storageKey: 'profile' });
    expect(checkout.key).not.toBe(profile.key);

    const afterReload = createIntent({ storage, storageKey: 'checkout' });
    expect(afterReload.key).toBe(checkout.key);

    const next = afterReload.complete();
    expect(JSON.parse(storage.entries.get('checkout')!)).toEqual({ key: next, n: 2 });
    expect(createIntent({ storage, storageKey: 'checkout' }).key).toBe(next);
    // The old intent object sees the new key too: storage is read, not remembered.
    expect(checkout.key).toBe(next);
  });

  it('reads a bare key, as earlier versions stored it', () => {
    const storage = memoryStorage();
    storage.setItem('legacy', 'key-from-an-earlier-version');
    const intent = createIntent({ storage, storageKey: 'legacy' });
    expect(intent.key).toBe('key-from-an-earlier-version');
    expect(intent.rotate()).not.toBe('key-from-an-earlier-version');
  });

  it('lets a second call with the key in flight wait and share its result, then both see the rotated key', async () => {
    const storage = memoryStorage();
    const [a, b] = [createIntent({ storage, storageKey: 'shared' }), createIntent({ storage, storageKey: 'shared' })];
    const first = a.key;
    expect(b.key).toBe(first);
    let sent = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const mutation = async (key: string) => {
      sent += 1;
      await gate;
      return { paidWith: key };
    };
    const shared: string[] = [];
    const calls = [
      a.run(mutation, { input: { cents: 100 }, onShared: () => shared.push('a') }),
      b.run(mutation, { input: { cents: 100 }, onShared: () => shared.push('b') }),
    ];
    // While the first runs, the call is kept in storage, so that a reload would resume it.
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(a.pending()).toEqual([expect.objectContaining({ key: first, input: { cents: 100 } })]);
    release();
    expect(await Promise.all(calls)).toEqual([{ paidWith: first }, { paidWith: first }]);
    expect(sent).toBe(1);
    expect(shared).toEqual(['b']);
    expect(a.pending()).toEqual([]);
    expect(a.key).not.toBe(first);
    expect(b.key).toBe(a.key);
  });

  it('sends a call of the same key with another input on its own, so the server can refuse it', async () => {
    const intent = createIntent({ storage: memoryStorage(), storageKey: 'other-input' });
    const key = intent.key;
    const sent: unknown[] = [];
    await intent.run(async () => sent.push('first'), { input: { cents: 100 } });
    await intent.run(async () => sent.push('second'), { key, input: { cents: 200 } });
    expect(sent).toEqual(['first', 'second']);
  });

  it('asks the server for each new key with issue, once per intent', async () => {
    let issued = 0;
    const intent = createIntent({ issue: async () => ({ key: `issued-${++issued}` }) });
    expect(intent.key).toBe('');
    expect(await intent.ready()).toBe('issued-1');
    expect(await intent.run(async (key) => key)).toBe('issued-1');
    expect(await intent.ready()).toBe('issued-2');
    expect(await intent.ready()).toBe('issued-2');
    expect(issued).toBe(2);
  });

  it('run() rotates after success only', async () => {
    const intent = createIntent();
    const first = intent.key;
    await expect(intent.run(async () => Promise.reject(new Error('offline')))).rejects.toThrow('offline');
    expect(intent.key).toBe(first);
    const used: string[] = [];
    await intent.run(async (key) => used.push(key));
    expect(used).toEqual([first]);
    expect(intent.key).not.toBe(first);
  });

  it('falls back to memory when storage is missing or throws, and ignores a stored value that is not a key', () => {
    const broken: KeyStorage = {
      getItem: () => {
        throw new Error('SecurityError');
      },
      setItem: () => {
        throw new Error('QuotaExceededError');
      },
      removeItem: () => {},
    };
    expect(createIntent({ storage: broken }).key).toMatch(/^[0-9a-f-]{36}$/);
    expect(createIntent({ storage: 'session' }).key).toMatch(/^[0-9a-f-]{36}$/);
    const storage = memoryStorage();
    storage.setItem('trpc-idempotency:intent', 'not a key');
    expect(createIntent({ storage }).key).not.toBe('not a key');
  });

  it('names a bad option', () => {
    expect(() => createIntent({ storage: 'cookie' as never })).toThrow(/"storage"/);
    expect(() => createIntent({ storageKey: '' })).toThrow(/"storageKey"/);
    expect(() => createIntent({ generate: () => 'bad key' })).toThrow(/"generate"/);
    expect(() => createIntent({ crossTab: 'yes' as never })).toThrow(/"crossTab"/);
    expect(() => createIntent({ issue: 'server' as never })).toThrow(/"issue"/);
  });
});

describe('useIdempotencyKey', () => {
  function render(name: string, storage: KeyStorage): IdempotencyKeyHandle {
    let handle: IdempotencyKeyHandle | undefined;
    function Form() {
      handle = useIdempotencyKey(name, { storage });
      return createElement('input', { type: 'hidden', value: handle.key, readOnly: true });
    }
    const html = renderToString(createElement(Form));
    expect(html).toContain(handle!.key);
    return handle!;
  }

  it('gives a component one key per intent, kept across a reload and rotated after success', async () => {
    const storage = memoryStorage();
    const first = render('checkout', storage);
    expect(first.key).toMatch(/^[0-9a-f-]{36}$/);
    expect(render('checkout', storage).key).toBe(first.key);
    expect(render('newsletter', storage).key).not.toBe(first.key);

    await first.run(async (key) => expect(key).toBe(first.key));
    const afterSuccess = render('checkout', storage);
    expect(afterSuccess.key).not.toBe(first.key);
    const rotated = afterSuccess.rotate();
    expect(render('checkout', storage).key).toBe(rotated);
  });
});
