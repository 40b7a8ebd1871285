// The one poll-with-deadline of the test suite: tests wait for an observable condition, never for
// a fixed time. Returns the first truthy value of `fn`.

/** What `eventually` can return: the truthy part of T. */
export type Truthy<T> = Exclude<T, undefined | null | false | '' | 0>;

export async function eventually<T>(fn: () => Promise<T> | T, what: string, timeoutMs = 5000, everyMs = 10): Promise<Truthy<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as Truthy<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
