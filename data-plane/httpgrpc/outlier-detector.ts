// Envoy's outlier detection (arch_overview/outlier, config/cluster/v3/outlier_detection.proto; gRFC
// A50 for the interval algorithm) over one backend's endpoints, by address. It only keeps counts and
// says who is ejected: the balancer reads that as a view and skips them (grpc-js builds it the same
// way, as a wrapper around the child policy); connections are never touched, so an ejected endpoint
// keeps its HTTP/2 connection and comes back without a reconnect.

import type { OutlierDetectionSettings } from '../../core/balancing.js';

/** What one finished call says about its endpoint. */
export type CallResult =
  | 'success'
  /** A 5xx answer other than 502/503/504, or a gRPC error from the backend. */
  | 'error'
  /** 502, 503, 504, or a local-origin failure (connect, reset, timeout, UNAVAILABLE). */
  | 'gateway_failure';

export type EjectionReason = 'consecutive_5xx' | 'consecutive_gateway_failure' | 'success_rate' | 'failure_percentage';
export const EJECTION_REASONS: readonly EjectionReason[] = ['consecutive_5xx', 'consecutive_gateway_failure', 'success_rate', 'failure_percentage'];

export interface Ejection {
  readonly reason: EjectionReason;
  /** Epoch ms. */
  readonly since: number;
  /** Epoch ms at which it may return (checked at each interval, as Envoy does). */
  readonly until: number;
  /** Times this endpoint was ejected while known to this detector. */
  readonly times: number;
}

export interface OutlierEvents {
  onEject(address: string, e: Ejection): void;
  onReturn(address: string, e: Ejection): void;
}

interface Host {
  consecutive5xx: number;
  consecutiveGateway: number;
  /** This interval's bucket (Envoy swaps buckets at each interval). */
  ok: number;
  failed: number;
  /** Ejection-time multiplier: up on each ejection, down by one per interval not ejected. */
  multiplier: number;
  times: number;
  ejection: Ejection | undefined;
}

export interface DetectorClock {
  now(): number;
  random(): number;
}

const REAL_CLOCK: DetectorClock = { now: Date.now, random: Math.random };

export class OutlierDetector {
  private readonly hosts = new Map<string, Host>();
  private timer: NodeJS.Timeout | undefined;
  private ejectedCount = 0;

  constructor(
    private settings: OutlierDetectionSettings,
    private readonly events: OutlierEvents,
    private readonly clock: DetectorClock = REAL_CLOCK,
  ) {}

  /** Start the interval sweeps (unref'd: never keeps the process alive). */
  start(): void {
    this.stop();
    this.timer = setInterval(() => this.sweep(), this.settings.interval_ms);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** New settings keep every count and ejection; a changed interval restarts the sweeps. */
  update(settings: OutlierDetectionSettings): void {
    const restart = this.timer !== undefined && settings.interval_ms !== this.settings.interval_ms;
    this.settings = settings;
    if (restart) this.start();
  }

  /** The endpoint set changed: new ones start clean, removed ones are forgotten. */
  setHosts(addresses: Iterable<string>): void {
    const keep = new Set(addresses);
    for (const [a, h] of this.hosts) {
      if (keep.has(a)) continue;
      if (h.ejection) this.ejectedCount--;
      this.hosts.delete(a);
    }
    for (const a of keep) {
      if (!this.hosts.has(a)) this.hosts.set(a, { consecutive5xx: 0, consecutiveGateway: 0, ok: 0, failed: 0, multiplier: 0, times: 0, ejection: undefined });
    }
  }

  isEjected(address: string): boolean {
    return this.hosts.get(address)?.ejection !== undefined;
  }

  ejection(address: string): Ejection | undefined {
    return this.hosts.get(address)?.ejection;
  }

  get ejected(): number {
    return this.ejectedCount;
  }

  /** A finished call. Consecutive-failure ejections happen here, inline (Envoy's "inline" detectors). */
  record(address: string, result: CallResult): void {
    const h = this.hosts.get(address);
    if (h === undefined) return;
    if (result === 'success') {
      h.ok++;
      h.consecutive5xx = 0;
      h.consecutiveGateway = 0;
      return;
    }
    h.failed++;
    // Without split_external_local_origin_errors Envoy maps local-origin failures to 5xx codes, so
    // a gateway failure counts toward consecutive_5xx as well.
    h.consecutive5xx++;
    if (result === 'gateway_failure') h.consecutiveGateway++;
    else h.consecutiveGateway = 0;
    if (h.ejection !== undefined) return;
    const s = this.settings;
    if (s.consecutive_gateway_failure > 0 && h.consecutiveGateway >= s.consecutive_gateway_failure) {
      h.consecutiveGateway = 0;
      if (this.enforced(s.enforcing_consecutive_gateway_failure)) this.eject(address, h, 'consecutive_gateway_failure');
    }
    if (h.ejection === undefined && s.consecutive_5xx > 0 && h.consecutive5xx >= s.consecutive_5xx) {
      h.consecutive5xx = 0;
      if (this.enforced(s.enforcing_consecutive_5xx)) this.eject(address, h, 'consecutive_5xx');
    }
  }

  /**
   * One interval (gRFC A50 "Ejection timer"): the interval's success-rate and failure-percentage
   * passes, then returns of those whose time is up and multiplier decay; the buckets start over.
   */
  sweep(): void {
    this.successRatePass();
    this.failurePercentagePass();
    const now = this.clock.now();
    for (const [a, h] of this.hosts) {
      if (h.ejection === undefined) {
        if (h.multiplier > 0) h.multiplier--;
      } else if (now >= h.ejection.until) {
        const e = h.ejection;
        h.ejection = undefined;
        this.ejectedCount--;
        this.events.onReturn(a, e);
      }
      h.ok = 0;
      h.failed = 0;
    }
  }

  private successRatePass(): void {
    const s = this.settings;
    if (s.enforcing_success_rate === 0) return;
    const rates: [string, Host, number][] = [];
    for (const [a, h] of this.hosts) {
      const total = h.ok + h.failed;
      if (total >= s.success_rate_request_volume && total > 0) rates.push([a, h, h.ok / total]);
    }
    if (rates.length === 0 || rates.length < s.success_rate_minimum_hosts) return;
    const mean = rates.reduce((sum, [, , r]) => sum + r, 0) / rates.length;
    const variance = rates.reduce((sum, [, , r]) => sum + (r - mean) ** 2, 0) / rates.length;
    const threshold = mean - Math.sqrt(variance) * (s.success_rate_stdev_factor / 1000);
    for (const [a, h, r] of rates) {
      if (r < threshold && h.ejection === undefined && this.enforced(s.enforcing_success_rate)) this.eject(a, h, 'success_rate');
    }
  }

  private failurePercentagePass(): void {
    const s = this.settings;
    if (s.enforcing_failure_percentage === 0) return;
    const candidates: [string, Host, number][] = [];
    for (const [a, h] of this.hosts) {
      const total = h.ok + h.failed;
      if (total >= s.failure_percentage_request_volume && total > 0) candidates.push([a, h, (100 * h.failed) / total]);
    }
    if (candidates.length === 0 || candidates.length < s.failure_percentage_minimum_hosts) return;
    for (const [a, h, pct] of candidates) {
      if (pct > s.failure_percentage_threshold && h.ejection === undefined && this.enforced(s.enforcing_failure_percentage)) {
        this.eject(a, h, 'failure_percentage');
      }
    }
  }

  private enforced(percent: number): boolean {
    return percent >= 100 || (percent > 0 && this.clock.random() * 100 < percent);
  }

  /**
   * Envoy's ejectHost: only while (ejected + 1) / endpoints stays within max_ejection_percent (or
   * always_eject_one_host and none is ejected). Time = base × multiplier, capped at
   * max(base, max_ejection_time).
   */
  private eject(address: string, h: Host, reason: EjectionReason): void {
    const s = this.settings;
    const total = this.hosts.size;
    const within = (100 * (this.ejectedCount + 1)) / total <= s.max_ejection_percent;
    if (!within && !(s.always_eject_one_host && this.ejectedCount === 0)) return;
    const cap = Math.max(s.base_ejection_time_ms, s.max_ejection_time_ms);
    if (s.base_ejection_time_ms * h.multiplier < cap) h.multiplier++;
    h.times++;
    const since = this.clock.now();
    h.ejection = { reason, since, until: since + Math.min(s.base_ejection_time_ms * h.multiplier, cap), times: h.times };
    this.ejectedCount++;
    this.events.onEject(address, h.ejection);
  }
}
