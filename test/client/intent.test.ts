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
    expect(storage.entries.get('checkout')).toBe(next);
    expect(createIntent({ storage, storageKey: 'checkout' }).key).toBe(next);
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
