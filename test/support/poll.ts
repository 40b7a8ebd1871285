// The one poll-with-deadline of the test suite: tests wait for an observable condition, never for
// a fixed time. Returns the first truthy value of `fn`.

/** What `eventually` can return: the truthy part of T. */
export type Truthy<T> = Exclude<T, undefined | null | false | '' | 0>;

/**
 * The shortest deadline any wait gets, whatever a call asks for: a wait is a bound on how long a test may
 * hang, not a performance limit, and on a machine whose cores are all busy a 3 s wait fails tests that
 * are right. A passing test returns as soon as its condition holds, so this costs nothing there.
 */
export const MIN_DEADLINE_MS = 20_000;

export async function eventually<T>(fn: () => Promise<T> | T, what: string, timeoutMs = MIN_DEADLINE_MS, everyMs = 10): Promise<Truthy<T>> {
  timeoutMs = Math.max(timeoutMs, MIN_DEADLINE_MS);
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
