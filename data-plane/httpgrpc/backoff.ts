/** gRPC connection-backoff.md parameters; tests shorten them. */
export interface BackoffSettings {
  readonly initialMs: number;
  readonly multiplier: number;
  readonly jitter: number;
  readonly maxMs: number;
  /** MIN_CONNECT_TIMEOUT: an attempt is given at least this long to connect. */
  readonly minConnectTimeoutMs: number;
}

export const GRPC_BACKOFF: BackoffSettings = { initialMs: 1_000, multiplier: 1.6, jitter: 0.2, maxMs: 120_000, minConnectTimeoutMs: 20_000 };

/**
 * ConnectWithBackoff from grpc/grpc doc/connection-backoff.md: each attempt has a deadline
 * (now + current backoff, jittered); a failed attempt sleeps until that deadline, and the backoff
 * grows ×multiplier up to max. A successful connection resets it.
 */
export class ConnectBackoff {
  /** current_backoff in the spec: grows ×multiplier, never jittered itself. */
  private backoff: number;
  /** This attempt's share: the backoff with jitter applied (the first attempt gets none). */
  private delay: number;
  private deadline = 0;

  constructor(private readonly s: BackoffSettings = GRPC_BACKOFF) {
    this.backoff = this.delay = s.initialMs;
  }

  /** Start of an attempt: how long it may take before it is abandoned. */
  attemptStarted(now = Date.now()): number {
    this.deadline = now + this.delay;
    return Math.max(this.delay, this.s.minConnectTimeoutMs);
  }

  /** After a failed attempt: ms to wait before the next one (until this attempt's deadline). */
  attemptFailed(now = Date.now()): number {
    const wait = Math.max(0, this.deadline - now);
    this.backoff = Math.min(this.backoff * this.s.multiplier, this.s.maxMs);
    this.delay = this.backoff + (Math.random() * 2 - 1) * this.s.jitter * this.backoff;
    return wait;
  }

  reset(): void {
    this.backoff = this.delay = this.s.initialMs;
  }
}
