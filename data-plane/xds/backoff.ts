// Reconnect delays: exponential backoff with "full jitter" (AWS Architecture Blog, "Exponential
// Backoff And Jitter"): delay = random(0, min(max, initial * 2^attempt)). Jitter keeps a fleet of
// gateways from reconnecting in lockstep when the control plane comes back.

export interface BackoffOptions {
  /** Ceiling of the first delay, ms (default 500). */
  readonly initialMs?: number;
  /** Largest ceiling, ms (default 30000). */
  readonly maxMs?: number;
  /** Uniform in [0, 1); tests pass a fixed one. */
  readonly random?: () => number;
}

export const DEFAULT_BACKOFF = { initialMs: 500, maxMs: 30_000 } as const;

export class Backoff {
  private attempt = 0;
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly random: () => number;

  constructor(opts: BackoffOptions = {}) {
    this.initialMs = Math.max(1, opts.initialMs ?? DEFAULT_BACKOFF.initialMs);
    this.maxMs = Math.max(this.initialMs, opts.maxMs ?? DEFAULT_BACKOFF.maxMs);
    this.random = opts.random ?? Math.random;
  }

  /** The next delay, ms; each call doubles the ceiling until maxMs. */
  next(): number {
    // 2^attempt capped before it overflows: 2^30 * 1 ms is far beyond any sane maxMs.
    const ceiling = Math.min(this.maxMs, this.initialMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    return Math.floor(this.random() * ceiling);
  }

  /** After a stream that worked (delivered a response): start again from initialMs. */
  reset(): void {
    this.attempt = 0;
  }

  /** Delays handed out since the last reset. */
  attempts(): number {
    return this.attempt;
  }
}
