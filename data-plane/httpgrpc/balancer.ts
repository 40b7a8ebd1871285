// One balancer for a backend's endpoints, in layers (Envoy's load balancers and grpc-js's policy
// tree): [choose a zone: zone-chooser.ts, Envoy's zone-aware routing] → skip what outlier detection
// ejected → round robin or least request within what is left. Each layer narrows a list; the picker
// is rebuilt on change (endpoint set, READY, ejection, policy), never per request, and swapped in
// one assignment, so the hot path stays a few array reads.

import type { Logger } from 'pino';
import type { BalancingPolicy } from '../../core/balancing.js';
import { PLAIN_ROUND_ROBIN } from '../../core/balancing.js';
import type { ConnectivityState } from './endpoint-connection.js';
import type { HttpGrpcMetrics } from './metrics.js';
import { OutlierDetector, type CallResult, type DetectorClock, type Ejection } from './outlier-detector.js';
import { RoundRobinPicker } from './picker.js';
import type { EndpointLoad } from '../load/load-recorder.js';
import { chooseZone, planZones, ZONE_AWARE_DEFAULTS, type ZoneAwareSettings, type ZonePlan } from './zone-chooser.js';

export interface BalancedEndpoint {
  readonly address: string;
  readonly state: ConnectivityState;
  readonly inFlight: number;
}

export interface Picker<T> {
  readonly ready: readonly T[];
  readonly cursor: number;
  pick(avoid?: ReadonlySet<T>): T | undefined;
}

/**
 * Envoy's least_request with choice_count 2 and equal weights (N_CHOICES): two distinct endpoints at
 * random, the one with fewer calls in flight. A tie goes to the one this picker chose less often
 * (Envoy keeps the first): with sequential clients every pick is a tie, and random tie-breaks
 * left 3 endpoints at max/min 1.03-1.05 over a thousand requests; two choices on pick counts stay
 * within a few requests. Endpoints already tried by the request are skipped while another is left.
 */
export class LeastRequestPicker<T extends { readonly inFlight: number }> implements Picker<T> {
  private readonly picks: Uint32Array;

  constructor(
    readonly ready: readonly T[],
    private readonly random: () => number = Math.random,
  ) {
    this.picks = new Uint32Array(ready.length);
  }

  get cursor(): number {
    return 0;
  }

  pick(avoid?: ReadonlySet<T>): T | undefined {
    const all = this.ready;
    const n = all.length;
    if (n <= 1) return all[0];
    if (avoid !== undefined && avoid.size > 0) {
      const rest = all.filter((c) => !avoid.has(c));
      if (rest.length === 1) return rest[0];
      if (rest.length > 1) return new LeastRequestPicker(rest, this.random).pick();
    }
    const i = Math.floor(this.random() * n);
    let j = Math.floor(this.random() * (n - 1));
    if (j >= i) j++;
    const a = all[i]!.inFlight;
    const b = all[j]!.inFlight;
    const k = b < a || (b === a && this.picks[j]! < this.picks[i]!) ? j : i;
    this.picks[k]!++;
    return all[k];
  }
}

export interface BalancerOptions {
  readonly backend: string;
  readonly logger: Logger;
  readonly metrics: HttpGrpcMetrics;
  readonly clock?: DetectorClock;
  /** Load reports: an ejected endpoint is reported as such until it returns (LRS load_metric_stats). */
  readonly load?: EndpointLoad;
}

/** Per-endpoint view for /gateway/api/v1/config. */
export interface EjectionStatus {
  readonly ejected: boolean;
  /** Set while ejected, or after a return: the last ejection. */
  readonly reason?: string;
  readonly since?: string;
  readonly until?: string;
  readonly times: number;
}

export class EndpointBalancer<T extends BalancedEndpoint> {
  private policy: BalancingPolicy = PLAIN_ROUND_ROBIN;
  private detector: OutlierDetector | undefined;
  private members: readonly T[] = [];
  private memberKey = '';
  private picker: Picker<T> = new RoundRobinPicker<T>([]);
  private readonly last = new Map<string, Ejection>();
  /** READY endpoints, ejected ones included. */
  readyCount = 0;
  /** Called after every rebuild (the owner wakes requests waiting for an endpoint). */
  onRebuild: (() => void) | undefined;
  /** Layer 1, zones (issue 20): endpoint zones, this gateway's zone, gateways per zone. */
  private zoneOf: ReadonlyMap<string, string> = new Map();
  private localZone: string | undefined;
  private gateways: ReadonlyMap<string, number> | undefined;
  private zonePlan: ZonePlan = { kind: 'all', why: 'no zones' };
  private zonePickers = new Map<string, Picker<T>>();

  constructor(private readonly opts: BalancerOptions) {}

  get current(): BalancingPolicy {
    return this.policy;
  }

  /** Apply a policy in place: counts and ejections survive, connections are not touched. */
  setPolicy(policy: BalancingPolicy): void {
    this.policy = policy;
    const od = policy.outlierDetection;
    if (od === undefined) {
      this.detector?.stop();
      for (const m of this.members) if (this.detector?.isEjected(m.address)) this.opts.load?.ejected?.(m.address, false);
      if (this.detector && this.detector.ejected > 0) this.opts.logger.info({ backend: this.opts.backend }, 'outlier detection turned off; every endpoint is back');
      this.detector = undefined;
    } else if (this.detector === undefined) {
      this.detector = new OutlierDetector(od, { onEject: (a, e) => this.ejected(a, e), onReturn: (a, e) => this.returned(a, e) }, this.opts.clock);
      this.detector.setHosts(this.members.map((m) => m.address));
      this.detector.start();
    } else this.detector.update(od);
    this.syncGauge();
    this.rebuild(this.members);
  }

  /**
   * Zones of the endpoints (address → zone, from the ClusterLoadAssignment's localities), this
   * gateway's zone, and gateways per zone (Envoy's local cluster, counted by the control plane over
   * the fleet; undefined: assume one gateway per zone that has endpoints, i.e. an even spread).
   */
  setZones(zoneOf: ReadonlyMap<string, string>, localZone: string | undefined, gateways?: ReadonlyMap<string, number>): void {
    this.zoneOf = zoneOf;
    this.localZone = localZone;
    this.gateways = gateways;
    this.rebuild(this.members);
  }

  /** The backend's zone_aware settings (from the Cluster), Envoy's defaults unless set. */
  private get zoneSettings(): ZoneAwareSettings {
    return this.policy.zoneAware ?? ZONE_AWARE_DEFAULTS;
  }

  /** What layer 1 decided at the last rebuild. */
  get zones(): ZonePlan {
    return this.zonePlan;
  }

  /** The members or their READY states changed. */
  rebuild(members: Iterable<T>): void {
    this.members = [...members];
    const key = this.members.map((m) => m.address).join(',');
    if (key !== this.memberKey) {
      this.memberKey = key;
      const kept = new Set(this.members.map((m) => m.address));
      for (const a of this.last.keys()) if (!kept.has(a) && this.detector?.isEjected(a)) this.opts.load?.ejected?.(a, false);
      this.detector?.setHosts(this.members.map((m) => m.address));
      for (const a of this.last.keys()) if (!kept.has(a)) this.last.delete(a);
    }
    const ready = this.members.filter((m) => m.state === 'READY');
    this.readyCount = ready.length;
    // Layer 2: skip the ejected, but never all of them: with nothing
    // left, balance over every READY endpoint (Envoy's panic mode), so traffic keeps flowing when
    // every distributor fails together.
    const detector = this.detector;
    const healthy = detector === undefined ? ready : ready.filter((m) => !detector.isEjected(m.address));
    // fail_traffic_on_panic: in panic fail the requests instead (Envoy's ZoneAwareLbConfig).
    const candidates = healthy.length > 0 ? healthy : this.zoneSettings.failTrafficOnPanic ? [] : ready;
    const previous = this.picker;
    this.picker = this.within(candidates, previous.cursor);
    // Layer 1 (zones) plans over the healthy ones: a zone whose endpoints are all ejected is empty.
    this.planZones(candidates);
    this.onRebuild?.();
  }

  private within(candidates: readonly T[], cursor = 0): Picker<T> {
    return this.policy.loadBalancing === 'least_request' ? new LeastRequestPicker(candidates) : new RoundRobinPicker(candidates, cursor);
  }

  private planZones(candidates: readonly T[]): void {
    this.zonePickers = new Map();
    if (this.localZone === undefined || this.zoneOf.size === 0) {
      this.zonePlan = { kind: 'all', why: this.localZone === undefined ? 'this gateway has no zone' : 'endpoints have no zones' };
      return;
    }
    const byZone = new Map<string, T[]>();
    for (const c of candidates) {
      const z = this.zoneOf.get(c.address) ?? '';
      const list = byZone.get(z);
      if (list) list.push(c);
      else byZone.set(z, [c]);
    }
    const healthy = new Map([...byZone].map(([z, l]) => [z, l.length]));
    const gateways = this.gateways ?? new Map([...byZone.keys()].map((z) => [z, 1]));
    this.zonePlan = planZones(this.localZone, healthy, gateways, this.zoneSettings);
    for (const [z, list] of byZone) this.zonePickers.set(z, this.within(list));
  }

  pick(avoid?: ReadonlySet<T>): T | undefined {
    if (this.zonePlan.kind !== 'all') {
      const zone = chooseZone(this.zonePlan, this.zoneSettings);
      const inZone = zone === undefined ? undefined : this.zonePickers.get(zone)?.pick(avoid);
      // A zone whose endpoints this request already tried falls through to every endpoint.
      if (inZone !== undefined && !avoid?.has(inZone)) return inZone;
    }
    return this.picker.pick(avoid);
  }

  record(address: string, result: CallResult): void {
    this.detector?.record(address, result);
  }

  status(address: string): EjectionStatus | undefined {
    if (this.detector === undefined) return undefined;
    const now = this.detector.ejection(address);
    const e = now ?? this.last.get(address);
    if (e === undefined) return { ejected: false, times: 0 };
    return { ejected: now !== undefined, reason: e.reason, since: new Date(e.since).toISOString(), until: new Date(e.until).toISOString(), times: e.times };
  }

  close(): void {
    this.detector?.stop();
  }

  private ejected(address: string, e: Ejection): void {
    this.last.set(address, e);
    const { backend, logger, metrics } = this.opts;
    metrics.ejections.inc({ backend, endpoint: address, reason: e.reason });
    metrics.ejected.set({ backend, endpoint: address }, 1);
    this.opts.load?.ejected?.(address, true);
    logger.warn({ backend, endpoint: address, reason: e.reason, times: e.times, until: new Date(e.until).toISOString() }, 'outlier detection: endpoint ejected');
    this.rebuild(this.members);
  }

  private returned(address: string, e: Ejection): void {
    const { backend, logger, metrics } = this.opts;
    metrics.ejected.set({ backend, endpoint: address }, 0);
    this.opts.load?.ejected?.(address, false);
    logger.info({ backend, endpoint: address, reason: e.reason, ejected_ms: Date.now() - e.since }, 'outlier detection: endpoint returned');
    this.rebuild(this.members);
  }

  private syncGauge(): void {
    const { backend, metrics } = this.opts;
    for (const m of this.members) metrics.ejected.set({ backend, endpoint: m.address }, this.detector?.isEjected(m.address) ? 1 : 0);
  }
}

/** How a finished call counts for outlier detection; undefined: it does not count (the client left). */
export function callResult(outcome: { readonly kind: string; readonly response?: { readonly code: number }; readonly reason?: string; readonly key?: string }): CallResult | undefined {
  if (outcome.kind === 'response') {
    const code = outcome.response?.code ?? 200;
    if (code < 500) return 'success';
    return code === 502 || code === 503 || code === 504 ? 'gateway_failure' : 'error';
  }
  // Never reached the backend (connect failure, refused stream), timeouts, lost connections and
  // UNAVAILABLE are local-origin / gateway failures; other gRPC errors are the backend's own.
  if (outcome.kind === 'retry') return 'gateway_failure';
  if (outcome.reason === 'cancelled') return undefined;
  if (outcome.reason === 'timeout' || outcome.key === 'UPSTREAM_UNAVAILABLE' || outcome.key === 'UPSTREAM_REFUSED') return 'gateway_failure';
  if (outcome.reason === 'too_large') return undefined;
  return 'error';
}
