// Everything a test starts is closed by that test: register the closer next to the start; they run
// after each test, last registered first, each even when an earlier one throws.

import { afterEach } from 'vitest';

export function cleanupsAfterEach(): Array<() => Promise<unknown> | void> {
  const cleanups: Array<() => Promise<unknown> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) {
      try {
        await c();
      } catch {
        // keep closing the rest
      }
    }
  });
  return cleanups;
}
