// The app-specific things the README examples use without defining them. readmeExamples.test.ts copies this
// file beside the extracted blocks, where it is a global script (tsconfig.json leaves it out of the repository's
// own type check, so these names are never globals there): every block sees these names, and nothing is
// added to the blocks themselves. Only declarations, never an implementation. Keep the list short: a block that
// needs many of these should be rewritten to be self-contained.

/** The order input of the server quickstart's `createOrder`. */
type Cart = { item: string; cents: number };

/** Your own authentication: the user id of a request, read from its headers. */
declare function authenticate(req: { headers: Record<string, string | string[] | undefined> }): string;
/** Your own database. */
declare const db: {
  orders: { insert(order: Cart & { userId: string; fence: number }): Promise<Cart & { id: string }> };
};
/** The example's payment ledger (examples/react-node/server/src/ledger.ts). */
declare const ledger: {
  record<T extends { amount: number; currency: string; key: string; fence: number }>(payment: T): T & { id: string };
  list(): Promise<Array<{ id: string; amount: number; currency: string; key: string; fence: number }>>;
};

/** The browser side: the user's session, your UI's messages, a button, the API's URL. */
declare const session: { userId: string };
declare function showError(message: string): void;
declare function showInfo(message: string): void;
declare const button: HTMLButtonElement;
declare const url: string;
/** The current cart, and the key of the intent that sends it (see `createIntent`). */
declare const cart: Cart;
declare const idempotencyKey: string;
/** The example page's log of payment calls (examples/react-node/web/src/callLog.ts). */
declare const callLog: { record(event: import('@trpc-idempotency/client').AttemptEvent): void };
/** The example page's "Go offline" switch for its tab (examples/react-node/web/src/network.ts). */
declare const network: import('@trpc-idempotency/client').OnlineSource & {
  fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response>;
};
