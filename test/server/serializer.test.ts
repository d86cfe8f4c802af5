import { createIdempotency, MemoryStore } from '@trpc-idempotency/server';
import superjson, { SuperJSON } from 'superjson';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Money, postMutation, startTestApp, type TestApp } from '../support/app.js';
import { backends, newKey, type OpenBackend } from '../support/backends.js';

/** Registers Money with a superjson, the way an app registers its own value types. */
function registerMoney(json: Pick<SuperJSON, 'registerCustom'>): void {
  json.registerCustom<Money, string>(
    {
      isApplicable: (value): value is Money => value instanceof Money,
      serialize: (money) => `${money.cents} ${money.currency}`,
      deserialize: (text) => {
        const [cents, currency] = text.split(' ');
        return new Money(Number(cents), currency!);
      },
    },
    'Money',
  );
}

// The app's own superjson instance, with a type registered on it that the default export does not know.
const privateJson = new SuperJSON();
registerMoney(privateJson);

// docs/protocol.md §3: outcomes and fingerprints go through the app's own transformer.
describe.each(backends())('the app’s own serializer, on $name', (backend) => {
  let open: OpenBackend;
  beforeAll(async () => {
    open = await backend.create();
  });
  afterAll(async () => {
    await open.close();
  });

  describe('with that instance as the router transformer, and no serializer option', () => {
    const transformer = privateJson;
    let app: TestApp;
    beforeAll(async () => {
      app = await startTestApp({ store: open.store, transformer });
    });
    afterAll(async () => {
      await app.close();
    });

    const send = (price: Money, key: string) =>
      postMutation(
        app.url,
        'orders.quote',
        { price },
        { 'x-user': 'ann', 'idempotency-key': key },
        transformer as unknown as typeof superjson,
      );

    it('replays a registered type as that type, and fingerprints it by its value', async () => {
      const key = newKey();
      const first = await send(new Money(1250, 'EUR'), key);
      expect(first.status).toBe(200);
      expect(first.data.price).toBeInstanceOf(Money);
      const replayed = await send(new Money(1250, 'EUR'), key);
      expect(replayed.headers.get('idempotent-replayed')).toBe('true');
      expect(replayed.data.price).toBeInstanceOf(Money);
      expect(replayed.data.price).toEqual(new Money(1250, 'EUR'));
      // Another amount is another input, though both are Money objects with no own JSON form.
      const other = await send(new Money(9999, 'EUR'), key);
      expect(other.error?.data.idempotency?.code).toBe('PAYLOAD_MISMATCH');
      expect(app.runsOf('ann', key)).toBe(1);
    });
  });

  it('takes a SuperJSON instance as the serializer option', async () => {
    const app = await startTestApp({ store: open.store, transformer: privateJson, serializer: privateJson });
    try {
      const key = newKey();
      const answers = [];
      for (let i = 0; i < 2; i++) {
        answers.push(
          await postMutation(
            app.url,
            'orders.quote',
            { price: new Money(5, 'USD') },
            { 'x-user': 'ann', 'idempotency-key': key },
            privateJson as unknown as typeof superjson,
          ),
        );
      }
      expect(answers.map((answer) => answer.data.price)).toEqual([new Money(5, 'USD'), new Money(5, 'USD')]);
      expect(answers[1]!.data.price).toBeInstanceOf(Money);
      expect(app.runsOf('ann', key)).toBe(1);
    } finally {
      await app.close();
    }
  });
});

describe('the serializer option', () => {
  it.each([
    ["superjson's default export", superjson],
    ['a SuperJSON instance', new SuperJSON()],
    ['a tRPC { input, output } transformer', { input: superjson, output: superjson }],
    [
      'any { serialize, deserialize }',
      { serialize: (value: unknown) => value, deserialize: (value: unknown) => value },
    ],
  ])('accepts %s', (_, serializer) => {
    const store = new MemoryStore();
    expect(typeof createIdempotency({ store, scope: 'global', serializer })).toBe('function');
    store.close();
  });
});
