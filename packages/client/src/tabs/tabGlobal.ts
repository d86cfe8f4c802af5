/**
 * A value shared by every copy of this package in the page (on globalThis, under a registered symbol):
 * a bundler or require() may load a module once per entry point, and tabs' channels and locks must be one.
 */
export function tabGlobal<T>(name: string, make: () => T): T {
  const registry = globalThis as Record<symbol, unknown>;
  const symbol = Symbol.for(`trpc-idempotency.${name}`);
  if (!(symbol in registry)) registry[symbol] = make();
  return registry[symbol] as T;
}
