// Slows down guessing: a client (address and claimed token id) that fails to authenticate `limit`
// times within `windowMs` gets 429 until its window ends. Fixed windows per address, in a bounded map (oldest addresses
// dropped first), so a spray of source addresses cannot grow memory without bound. Requests whose
// credentials are already verified (cached) never reach this check: a good client behind the same
// NAT as a bad one keeps working.

const MAX_ADDRESSES = 10_000;

export class FailureLimiter {
  private readonly windows = new Map<string, { start: number; failures: number }>();

  /** Milliseconds until `address` may try again, or 0 when it may try now. */
  retryAfterMs(address: string, limit: number, windowMs: number, now = Date.now()): number {
    const w = this.windows.get(address);
    if (!w) return 0;
    if (now - w.start >= windowMs) {
      this.windows.delete(address);
      return 0;
    }
    return w.failures >= limit ? w.start + windowMs - now : 0;
  }

  fail(address: string, windowMs: number, now = Date.now()): void {
    const w = this.windows.get(address);
    if (w && now - w.start < windowMs) {
      w.failures++;
      return;
    }
    this.windows.delete(address);
    if (this.windows.size >= MAX_ADDRESSES) this.windows.delete(this.windows.keys().next().value!);
    this.windows.set(address, { start: now, failures: 1 });
  }
}
