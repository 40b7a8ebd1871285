import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import { request } from 'undici';
import type { FleetNode } from '../xds/node-view.js';
import type { FleetLoadNode } from '../fleet/fleet-view.js';
import { canaryCohort, decide, type Counts, type Decision, type RolloutThresholds } from './decide.js';

// One rollout at a time: a new config/tokens content (the candidate) goes to the canary cohort, is
// judged by decide() from the fleet-wide figures every tick, and is then promoted or rolled back.
// Replicas agree through their rollout APIs (the -control-plane.peers addresses): for the same
// candidate the earliest start and its cohort are adopted, and a rollback taken anywhere wins over a
// promotion anywhere. This class decides; the control plane (RolloutTarget) serves what it decides.

export const ROLLOUT_PATH = '/control-plane/api/v1/rollout';

export interface RolloutTarget {
  /** Serve the candidate `id` to every gateway. */
  promote(id: string): void;
  /** Serve the current content to every gateway again; `id` is held as rejected. */
  rollback(id: string): void;
  /** The canary set changed: publish again. */
  canariesChanged(): void;
}

export interface RolloutFleet {
  nodes(): FleetNode[];
  loadNodes(): FleetLoadNode[];
  /** HTTP addresses of the peer replicas that answer. */
  peerAddresses(): string[];
}

export interface RolloutOptions {
  /** 0: no rollouts, every change goes to every gateway at once. */
  readonly canaryFraction: number;
  readonly thresholds: RolloutThresholds;
  readonly fleet: RolloutFleet;
  readonly logger: Logger;
  readonly registry: Registry;
  readonly now?: () => number;
  /** How often figures are judged and peers asked (default 1 s). */
  readonly tickMs?: number;
  /**
   * The load-report interval: counting starts this long after the rollout does, so a report
   * covering requests from before the change (one in flight at the start) is not held against the
   * candidate. A NACK is judged at once all the same. Default 0.
   */
  readonly settleMs?: number;
}

export type Outcome = 'promoted' | 'rolled-back' | 'replaced' | 'withdrawn';

export interface RolloutRecord {
  readonly id: string;
  readonly startedAt: string;
  readonly endedAt: string;
  readonly outcome: Outcome;
  readonly reason: string;
  readonly canaries: readonly string[];
}

export interface RolloutStatus {
  readonly enabled: boolean;
  readonly canaryFraction: number;
  readonly thresholds: RolloutThresholds;
  readonly stage: 'idle' | 'baking';
  readonly active: {
    readonly id: string;
    readonly startedAt: string;
    readonly startedAtMs: number;
    readonly canaries: readonly string[];
    readonly baseline: readonly string[];
    readonly versions: Readonly<Record<string, string>>;
    readonly decision: Decision | null;
  } | null;
  /** Contents held as rejected (rolled back or aborted), until the file changes again. */
  readonly rejected: readonly { readonly id: string; readonly reason: string; readonly at: string }[];
  readonly recent: readonly RolloutRecord[];
}

interface Active {
  readonly id: string;
  startedAtMs: number;
  canaries: string[];
  /** Candidate versions by type URL (for NACKs of it). */
  versions: Record<string, string>;
  /** `${replica}|${streamId}` → per backend totals when counting began. */
  start: Map<string, Readonly<Record<string, Counts>>>;
  /** This replica's clock when counting begins (the start plus settleMs); then `counting`. */
  readonly countFromMs: number;
  counting: boolean;
  decision: Decision | null;
}

const RECENT = 10;
const streamKey = (n: FleetLoadNode): string => `${n.replica}|${n.streamId}`;

export class Rollouts {
  private active: Active | undefined;
  private readonly rejected = new Map<string, { reason: string; at: string }>();
  private readonly promoted = new Set<string>();
  private readonly recent: RolloutRecord[] = [];
  private peers: RolloutStatus[] = [];
  private target: RolloutTarget | undefined;
  private timer: NodeJS.Timeout | undefined;
  private asking = false;
  private readonly now: () => number;
  private readonly outcomes: Counter<'outcome'>;
  private readonly inProgress: Gauge;
  private readonly canaryCount: Gauge;
  private readonly rejectedGauge: Gauge;

  constructor(private readonly opts: RolloutOptions) {
    this.now = opts.now ?? Date.now;
    this.outcomes = new Counter({
      name: 'control_plane_rollouts_total',
      help: 'Rollouts of config or tokens changes by outcome (promoted, rolled_back, replaced, withdrawn).',
      labelNames: ['outcome'],
      registers: [opts.registry],
    });
    for (const o of ['promoted', 'rolled_back', 'replaced', 'withdrawn']) this.outcomes.inc({ outcome: o }, 0);
    this.inProgress = new Gauge({ name: 'control_plane_rollout_in_progress', help: '1 while a candidate is served to the canary cohort only.', registers: [opts.registry] });
    this.canaryCount = new Gauge({ name: 'control_plane_rollout_canaries', help: 'Gateways in the canary cohort of the rollout in progress.', registers: [opts.registry] });
    this.rejectedGauge = new Gauge({
      name: 'control_plane_rollout_rejected',
      help: '1 while the config or tokens file holds content that was rolled back (the previous content is served).',
      registers: [opts.registry],
    });
  }

  get enabled(): boolean {
    return this.opts.canaryFraction > 0;
  }

  start(target: RolloutTarget): void {
    this.target = target;
    if (!this.enabled) return;
    this.timer = setInterval(() => void this.tick(), this.opts.tickMs ?? 1000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Node ids the candidate is served to (empty when no rollout is under way). */
  canaries(): ReadonlySet<string> {
    return new Set(this.active?.canaries ?? []);
  }

  activeId(): string | undefined {
    return this.active?.id;
  }

  /** Why `id` was rejected, if it was (here or by a peer). */
  rejection(id: string): string | undefined {
    return this.rejected.get(id)?.reason ?? this.peerRejection(id);
  }

  /** A new candidate: replaces the rollout under way, if any, and starts over. */
  begin(id: string): void {
    if (this.active?.id === id) return;
    if (this.active) this.end('replaced', `replaced by a newer change ${id}`);
    this.rejected.clear(); // the file changed again: what it held before is no longer held
    const fleet = this.opts.fleet;
    const connected = fleet.nodes().filter((n) => n.liveness === 'connected');
    const settle = this.opts.settleMs ?? 0;
    this.active = {
      id,
      startedAtMs: this.now(),
      canaries: canaryCohort(connected, this.opts.canaryFraction),
      versions: {},
      start: this.counters(),
      countFromMs: this.now() + settle,
      counting: settle === 0,
      decision: null,
    };
    this.inProgress.set(1);
    this.canaryCount.set(this.active.canaries.length);
    this.opts.logger.info({ id, canaries: this.active.canaries }, 'rollout: candidate served to the canary cohort');
    this.adoptPeers();
  }

  /** The candidate snapshot's versions, by type URL, as published. */
  candidateVersions(versions: Record<string, string>): void {
    if (this.active) this.active.versions = versions;
  }

  /** The file went back to the served content, or the candidate could not be built. */
  withdraw(reason: string): void {
    this.rejected.clear();
    this.rejectedGauge.set(0);
    if (this.active) this.end('withdrawn', reason);
  }

  /** Manual promote (the API). False when no rollout is under way. */
  promoteNow(): boolean {
    if (!this.active) return false;
    this.finish({ action: 'promote', reason: 'promoted by an operator', backends: [] });
    return true;
  }

  /** Manual abort (the API): roll back now. */
  abortNow(): boolean {
    if (!this.active) return false;
    this.finish({ action: 'rollback', reason: 'aborted by an operator', backends: [] });
    return true;
  }

  status(): RolloutStatus {
    const a = this.active;
    const canaries = new Set(a?.canaries ?? []);
    return {
      enabled: this.enabled,
      canaryFraction: this.opts.canaryFraction,
      thresholds: this.opts.thresholds,
      stage: a ? 'baking' : 'idle',
      active: a
        ? {
            id: a.id,
            startedAt: new Date(a.startedAtMs).toISOString(),
            startedAtMs: a.startedAtMs,
            canaries: a.canaries,
            baseline: [...new Set(this.opts.fleet.nodes().filter((n) => n.liveness === 'connected' && !canaries.has(n.nodeId)).map((n) => n.nodeId))].sort(),
            versions: a.versions,
            decision: a.decision,
          }
        : null,
      rejected: [...this.rejected].map(([id, r]) => ({ id, ...r })),
      recent: [...this.recent],
    };
  }

  /** Asks the peers, then judges: what one tick does (tests call it directly). */
  async tick(): Promise<void> {
    if (this.asking) return;
    this.asking = true;
    try {
      this.peers = await this.askPeers();
    } finally {
      this.asking = false;
    }
    this.adoptPeers();
    this.evaluate();
  }

  /** Judges the figures now, without asking peers. */
  evaluate(): void {
    const a = this.active;
    if (!a) return;
    if (!a.counting && this.now() >= a.countFromMs) {
      a.start = this.counters();
      a.counting = true;
    }
    // While settling only NACKs are judged: the figures may still hold requests from before the change.
    const figures = a.counting ? this.figures(a) : { canary: new Map<string, Counts>(), baseline: new Map<string, Counts>() };
    const d = decide({ startedAtMs: a.startedAtMs, nowMs: this.now(), ...figures, nacks: this.nacks(a) }, this.opts.thresholds);
    a.decision = d;
    if (d.action !== 'wait') this.finish(d);
  }

  /** Every stream's per-backend counters now, copied (they are compared with later reads). */
  private counters(): Map<string, Record<string, Counts>> {
    const out = new Map<string, Record<string, Counts>>();
    for (const n of this.opts.fleet.loadNodes()) out.set(streamKey(n), Object.fromEntries(Object.entries(n.totals).map(([k, v]) => [k, { issued: v.issued, failed: v.failed }])));
    return out;
  }

  private figures(a: Active): { canary: Map<string, Counts>; baseline: Map<string, Counts> } {
    const canaries = new Set(a.canaries);
    const canary = new Map<string, Counts>();
    const baseline = new Map<string, Counts>();
    const add = (into: Map<string, Counts>, name: string, issued: number, failed: number): void => {
      const o = into.get(name) ?? { issued: 0, failed: 0 };
      into.set(name, { issued: o.issued + Math.max(0, issued), failed: o.failed + Math.max(0, failed) });
    };
    let baselineNodes = 0;
    const canaryBefore = new Map<string, Counts>();
    for (const n of this.opts.fleet.loadNodes()) {
      const before = a.start.get(streamKey(n)) ?? {};
      const isCanary = canaries.has(n.nodeId);
      if (!isCanary) baselineNodes++;
      for (const [name, t] of Object.entries(n.totals)) {
        const b = before[name] ?? { issued: 0, failed: 0 };
        add(isCanary ? canary : baseline, name, t.issued - b.issued, t.failed - b.failed);
        if (isCanary) add(canaryBefore, name, b.issued, b.failed);
      }
    }
    // A single gateway (embedded mode) has no baseline cohort: it is compared with its own counts
    // from before the change.
    return { canary, baseline: baselineNodes === 0 ? canaryBefore : baseline };
  }

  private nacks(a: Active): { nodeId: string; message: string }[] {
    const canaries = new Set(a.canaries);
    const out: { nodeId: string; message: string }[] = [];
    for (const n of this.opts.fleet.nodes()) {
      if (!canaries.has(n.nodeId)) continue;
      for (const [typeUrl, t] of n.types) {
        const v = a.versions[typeUrl];
        if (v !== undefined && t.lastNack?.version === v) out.push({ nodeId: n.nodeId, message: t.lastNack.message });
      }
    }
    return out;
  }

  private finish(d: Decision): void {
    const a = this.active;
    if (!a || d.action === 'wait') return;
    a.decision = d;
    if (d.action === 'promote') {
      this.promoted.add(a.id);
      this.end('promoted', d.reason);
      this.target?.promote(a.id);
    } else {
      this.rejected.set(a.id, { reason: d.reason, at: new Date(this.now()).toISOString() });
      this.rejectedGauge.set(1);
      this.end('rolled-back', d.reason);
      this.target?.rollback(a.id);
    }
  }

  private end(outcome: Outcome, reason: string): void {
    const a = this.active;
    if (!a) return;
    this.active = undefined;
    this.inProgress.set(0);
    this.canaryCount.set(0);
    this.outcomes.inc({ outcome: outcome.replace('-', '_') });
    this.recent.unshift({ id: a.id, startedAt: new Date(a.startedAtMs).toISOString(), endedAt: new Date(this.now()).toISOString(), outcome, reason, canaries: a.canaries });
    this.recent.splice(RECENT);
    this.opts.logger[outcome === 'rolled-back' ? 'warn' : 'info']({ id: a.id, outcome, reason }, `rollout ${outcome}`);
  }

  /** Rollback wins; then a promotion; then the earliest start of the same candidate and its cohort. */
  private adoptPeers(): void {
    const a = this.active;
    if (!a) return;
    const rejected = this.peerRejection(a.id);
    if (rejected !== undefined) return this.finish({ action: 'rollback', reason: rejected, backends: [] });
    const promotedBy = this.peers.find((p) => p.recent.some((r) => r.id === a.id && r.outcome === 'promoted'));
    if (promotedBy) return this.finish({ action: 'promote', reason: 'promoted by a peer replica', backends: [] });
    for (const p of this.peers) {
      const pa = p.active;
      if (!pa || pa.id !== a.id || pa.startedAtMs >= a.startedAtMs) continue;
      a.startedAtMs = pa.startedAtMs;
      const same = pa.canaries.length === a.canaries.length && pa.canaries.every((c, i) => c === a.canaries[i]);
      if (!same) {
        a.canaries = [...pa.canaries];
        this.canaryCount.set(a.canaries.length);
        this.target?.canariesChanged();
      }
    }
  }

  private peerRejection(id: string): string | undefined {
    for (const p of this.peers) {
      const r = p.rejected.find((x) => x.id === id);
      if (r) return `rolled back by a peer replica: ${r.reason}`;
    }
    return undefined;
  }

  private async askPeers(): Promise<RolloutStatus[]> {
    const answers = await Promise.all(
      this.opts.fleet.peerAddresses().map(async (address) => {
        try {
          const res = await request(`http://${address}${ROLLOUT_PATH}`, { headersTimeout: 2000, bodyTimeout: 2000 });
          if (res.statusCode !== 200) {
            await res.body.dump();
            return undefined;
          }
          return (await res.body.json()) as RolloutStatus;
        } catch {
          return undefined; // a peer that does not answer holds no decision we can see
        }
      }),
    );
    return answers.filter((a): a is RolloutStatus => a !== undefined && Array.isArray(a.rejected));
  }
}
