// The control plane's flow: config facts + DNS answers → snapshot → cache. Watchers push facts in;
// nothing here knows about YAML, gRPC streams or the gateway.

import type { Logger } from 'pino';
import { Counter, Histogram, type Registry } from 'prom-client';
import { dnsTargetKey, type Backend, type DnsTarget, type Endpoint } from '../core/model.js';
import type { RouteRule } from '../core/routes.js';
import type { TokenEntry } from '../core/auth.js';
import type { AuthFilterConfig } from '../xds/auth-filter.js';
import type { EndpointSource } from './dns/dns-watcher.js';
import { buildSnapshot, SnapshotBuildError, type ResourceTransform } from './snapshot-builder.js';
import type { ListenerSpec } from './translate.js';
import { SnapshotInconsistentError, type SnapshotCache } from './xds/snapshot-cache.js';
import type { Rollouts } from './rollout/rollouts.js';
import type { Snapshot } from './xds/snapshot.js';
import { contentId } from './rollout/content-id.js';
import type { ZoneGatewayCounts } from '../xds/zone-metadata.js';

export interface ConfigFacts {
  readonly backends: readonly Backend[];
  readonly routes: readonly RouteRule[];
  /** Auth type token: the filter settings; the tokens come from setTokens. Undefined: trust. */
  readonly auth?: Omit<AuthFilterConfig, 'tokens'>;
}

export interface ControlPlaneOptions {
  readonly listener: ListenerSpec;
  readonly cache: SnapshotCache;
  readonly endpoints: EndpointSource;
  readonly logger: Logger;
  readonly registry: Registry;
  /**
   * How long a new DNS name may stay unanswered before a snapshot is published without its
   * endpoints. Waiting avoids pushing an empty endpoint set for a name that resolves a moment later
   * (a config edit that renames the distributor must not drop requests).
   */
  readonly firstAnswerWaitMs?: number;
  /** Test hook: alter translated resources before validation. */
  readonly transform?: ResourceTransform;
  /**
   * Rollouts of config and tokens changes (omitted or fraction 0: every change goes to every gateway
   * at once). DNS answers are facts and always go out at once, to the current and the candidate.
   */
  readonly rollouts?: Rollouts;
  /** Told after each published snapshot, with the facts it was built from (the dashboard's history). */
  readonly onPublished?: (backends: readonly Backend[], answers: ReadonlyMap<string, readonly Endpoint[]>) => void;
}

export interface BuildStatus {
  readonly lastSuccessAt: string | null;
  readonly lastError: { readonly stage: string; readonly message: string; readonly problems: readonly string[]; readonly at: string } | null;
  readonly waitingForDns: readonly string[];
  /** Content the files hold that a rollout rolled back: not served until the file changes again. */
  readonly rejected: { readonly id: string; readonly reason: string } | null;
}

/** Config facts and the token set: what a rollout stages. */
interface Content {
  readonly facts: ConfigFacts;
  readonly tokens: readonly TokenEntry[];
}

export class ControlPlane {
  private facts: ConfigFacts | undefined;
  private tokens: readonly TokenEntry[] = [];
  /** A rollout's candidate, served to the canaries only. */
  private candidate: (Content & { readonly id: string }) | undefined;
  /** Content rolled back, held (not served) until the file changes again. */
  private held: (Content & { readonly id: string }) | undefined;
  private gatewayZones: ZoneGatewayCounts | undefined;
  private readonly watches = new Map<string, () => void>();
  private readonly answers = new Map<string, readonly Endpoint[]>();
  private readonly firstSeen = new Map<string, number>();
  private retryTimer: NodeJS.Timeout | undefined;
  private lastSuccessAt: number | undefined;
  private lastError: BuildStatus['lastError'] = null;
  private readonly buildSeconds: Histogram;
  private readonly buildFailures: Counter<'stage'>;
  private firstPublish: Promise<void>;
  private resolveFirstPublish!: () => void;

  constructor(private readonly opts: ControlPlaneOptions) {
    this.firstPublish = new Promise((r) => (this.resolveFirstPublish = r));
    this.buildSeconds = new Histogram({
      name: 'control_plane_snapshot_build_seconds',
      help: 'Time to translate, validate and check one snapshot.',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [opts.registry],
    });
    this.buildFailures = new Counter({
      name: 'control_plane_snapshot_build_failures_total',
      help: 'Snapshots not published, by stage (translate, validate, consistency).',
      labelNames: ['stage'],
      registers: [opts.registry],
    });
    for (const stage of ['translate', 'validate', 'consistency']) this.buildFailures.inc({ stage }, 0);
  }

  /** Resolves when the first snapshot has been published. */
  published(): Promise<void> {
    return this.firstPublish;
  }

  /** New config facts: follow their DNS names, then publish (or stage them as a rollout). */
  setConfig(facts: ConfigFacts): void {
    if (this.staging()) return this.propose({ facts, tokens: this.next().tokens });
    this.facts = facts;
    this.follow();
    this.publish();
  }

  /** A new token set from the tokens file: published to every gateway (or staged) with the next snapshot. */
  setTokens(tokens: readonly TokenEntry[]): void {
    const facts = this.next().facts;
    if (this.staging() && facts) return this.propose({ facts, tokens });
    this.tokens = tokens;
    this.publish();
  }

  /** Rollouts on, and something already served: a change is staged. */
  private staging(): boolean {
    return this.opts.rollouts?.enabled === true && this.lastSuccessAt !== undefined && this.facts !== undefined;
  }

  /** What the files hold now: the candidate, else the held rejected content, else what is served. */
  private next(): { facts: ConfigFacts | undefined; tokens: readonly TokenEntry[] } {
    return this.candidate ?? this.held ?? { facts: this.facts, tokens: this.tokens };
  }

  private propose(content: Content): void {
    const rollouts = this.opts.rollouts!;
    const id = contentId(content.facts, content.tokens);
    this.held = undefined;
    if (id === contentId(this.facts!, this.tokens)) {
      // The file is back to what is served: nothing to roll out, nothing held.
      this.candidate = undefined;
      rollouts.withdraw('the file holds the served content again');
    } else {
      this.candidate = { ...content, id };
      rollouts.begin(id);
    }
    this.follow();
    this.publish();
  }

  /** The rollout's verdict: the candidate goes to every gateway. */
  promote(id: string): void {
    this.settle(id, 'promote');
  }

  /** The rollout's verdict: every gateway is served the current content; the candidate is held. */
  rollback(id: string): void {
    this.settle(id, 'rollback');
  }

  private settle(id: string, verdict: 'promote' | 'rollback'): void {
    const c = this.candidate;
    if (!c || c.id !== id) return;
    this.candidate = undefined;
    if (verdict === 'promote') {
      this.facts = c.facts;
      this.tokens = c.tokens;
    } else {
      this.held = c;
    }
    this.follow();
    this.publish();
  }

  /** The canary cohort changed (adopted from a peer replica). */
  republish(): void {
    this.publish();
  }

  /** Follows the DNS names of the served and the candidate config; drops the others. */
  private follow(): void {
    const wanted = new Map<string, DnsTarget>();
    for (const facts of [this.facts, this.candidate?.facts]) {
      for (const b of facts?.backends ?? []) {
        if (b.target.kind === 'dns') wanted.set(dnsTargetKey(b.target), b.target);
        for (const z of b.zones ?? []) wanted.set(dnsTargetKey(z.target), z.target);
      }
    }
    for (const [key, cancel] of this.watches) {
      if (!wanted.has(key)) {
        cancel();
        this.watches.delete(key);
        this.answers.delete(key);
        this.firstSeen.delete(key);
      }
    }
    for (const [key, target] of wanted) {
      if (this.watches.has(key)) continue;
      this.firstSeen.set(key, Date.now());
      this.watches.set(
        key,
        this.opts.endpoints.watch(target, (eps) => {
          this.answers.set(key, eps);
          this.publish();
        }),
      );
    }
  }

  /**
   * The fleet's gateways per zone (Envoy's local cluster), carried in zoned backends' CLAs. A new
   * snapshot only when a count changed, so versions stay a function of config, DNS and the counts.
   */
  setGatewayZones(counts: ZoneGatewayCounts): void {
    const same = (a: ZoneGatewayCounts | undefined, b: ZoneGatewayCounts): boolean => a !== undefined && a.size === b.size && [...b].every(([z, n]) => a.get(z) === n);
    if (same(this.gatewayZones, counts)) return;
    this.gatewayZones = counts;
    if (this.facts?.backends.some((b) => (b.zones?.length ?? 0) > 0)) this.publish();
  }

  status(): BuildStatus {
    return {
      lastSuccessAt: this.lastSuccessAt === undefined ? null : new Date(this.lastSuccessAt).toISOString(),
      lastError: this.lastError,
      waitingForDns: this.unanswered(),
      rejected: this.held ? { id: this.held.id, reason: this.opts.rollouts?.rejection(this.held.id) ?? 'rolled back' } : null,
    };
  }

  stop(): void {
    clearTimeout(this.retryTimer);
    for (const cancel of this.watches.values()) cancel();
    this.watches.clear();
  }

  private build(c: Content): Snapshot {
    const auth = c.facts.auth ? { ...c.facts.auth, tokens: c.tokens } : undefined;
    return buildSnapshot(
      { backends: c.facts.backends, routes: c.facts.routes, auth, endpoints: this.answers, listener: this.opts.listener, ...(this.gatewayZones ? { gatewayZones: this.gatewayZones } : {}) },
      this.opts.transform,
    );
  }

  /**
   * The candidate's snapshot, with the same DNS answers. One that cannot be built is no rollout: it
   * is dropped (and reported like any build failure) and the current content stays served.
   */
  private buildCandidate(): Snapshot | Error | undefined {
    const c = this.candidate;
    if (!c) return undefined;
    try {
      return this.build(c);
    } catch (err) {
      this.candidate = undefined;
      this.opts.rollouts?.withdraw(`candidate not built: ${err instanceof Error ? err.message : String(err)}`);
      return err instanceof Error ? err : new Error(String(err));
    }
  }

  private unanswered(): string[] {
    return [...this.watches.keys()].filter((k) => !this.answers.has(k));
  }

  private publish(): void {
    const facts = this.facts;
    if (!facts) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const wait = this.opts.firstAnswerWaitMs ?? 3000;
    const pending = this.unanswered();
    if (pending.length > 0) {
      const oldest = Math.min(...pending.map((k) => this.firstSeen.get(k) ?? Date.now()));
      const left = oldest + wait - Date.now();
      if (left > 0) {
        this.retryTimer = setTimeout(() => this.publish(), left);
        // Start-up awaits the first snapshot, and while DNS fails nothing else holds the event loop:
        // an unref'd timer here let the process exit 0 mid-start. Later ones must not hold it.
        if (this.lastSuccessAt !== undefined) this.retryTimer.unref();
        return;
      }
      this.opts.logger.warn({ targets: pending }, 'no DNS answer yet; publishing without endpoints for these names');
    }
    const started = performance.now();
    try {
      const snapshot = this.build({ facts, tokens: this.tokens });
      const candidate = this.buildCandidate();
      const rollouts = this.opts.rollouts;
      const canary = candidate instanceof Error || !candidate || !rollouts ? undefined : { snapshot: candidate, nodeIds: rollouts.canaries() };
      this.opts.cache.setSnapshot(snapshot, canary);
      if (canary) rollouts?.candidateVersions(canary.snapshot.versions());
      this.lastSuccessAt = Date.now();
      this.lastError = null;
      this.resolveFirstPublish();
      this.opts.onPublished?.(facts.backends, this.answers);
      if (candidate instanceof Error) this.failed(candidate);
    } catch (err) {
      this.failed(err);
    } finally {
      this.buildSeconds.observe((performance.now() - started) / 1000);
    }
  }

  private failed(err: unknown): void {
    const stage = err instanceof SnapshotBuildError ? err.stage : err instanceof SnapshotInconsistentError ? 'consistency' : 'translate';
    const problems = err instanceof SnapshotBuildError || err instanceof SnapshotInconsistentError ? err.problems : [];
    const message = err instanceof Error ? err.message : String(err);
    this.buildFailures.inc({ stage });
    this.lastError = { stage, message, problems, at: new Date().toISOString() };
    if (err instanceof SnapshotBuildError) this.opts.logger.error({ stage, problems }, message);
  }
}
