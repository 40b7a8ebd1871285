import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { TYPE_ORDER, type TypeUrl } from '../../xds/resource.js';
import type { Snapshot } from './snapshot.js';
import {
  deltaAnswer,
  sotwAnswer,
  type DeltaAnswer,
  type DeltaWatchRequest,
  type SotwAnswer,
  type SotwWatchRequest,
} from './watch-answers.js';
import { SnapshotMetrics } from './xds-metrics.js';

// One snapshot for the whole fleet (and, during a rollout, a candidate for the canary node ids), and
// the watches the ADS streams open on it. The cache decides what a node gets (go-control-plane's
// node-keyed cache): the streams only say who they are.
// Watches are one-shot (go-control-plane simple.go): answered once, then gone; a stream opens
// a new one when the client's next request for that type arrives. All of this runs on the
// one Node thread, so "set snapshot, then answer watches" needs no lock.

export type Cancel = () => void;

/** A snapshot that failed `consistent()`; the cache keeps serving the previous one. */
export class SnapshotInconsistentError extends Error {
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    const shown = problems.slice(0, 5).join('; ');
    const more = problems.length > 5 ? ` (and ${problems.length - 5} more)` : '';
    super(`snapshot refused, the previous one stays served: ${shown}${more}`);
    this.name = 'SnapshotInconsistentError';
    this.problems = problems;
  }
}

export interface SnapshotStatus {
  /** Version per type URL of the snapshot being served; empty before the first publish. */
  readonly versions: Partial<Record<TypeUrl, string>>;
  readonly publishedAt: string | null;
  readonly publishFailures: number;
  /** The most recent refused snapshot; compare `at` with `publishedAt` to see if it still matters. */
  readonly lastError: { readonly message: string; readonly problems: readonly string[]; readonly at: string } | null;
}

export interface SnapshotCacheOptions {
  readonly logger: Logger;
  /** Where the publish metrics go; omitted: no metrics. */
  readonly metricsRegistry?: Registry;
  readonly now?: () => number;
}

/** During a rollout: the candidate snapshot and the node ids (canaries) it is served to. */
export interface CanarySnapshot {
  readonly snapshot: Snapshot;
  readonly nodeIds: ReadonlySet<string>;
}

type Watch =
  | { readonly kind: 'sotw'; readonly req: SotwWatchRequest; readonly respond: (a: SotwAnswer) => void }
  | { readonly kind: 'delta'; readonly req: DeltaWatchRequest; readonly respond: (a: DeltaAnswer) => void };

export class SnapshotCache {
  private current: Snapshot | undefined;
  private canary: CanarySnapshot | undefined;
  private readonly watches = new Map<TypeUrl, Set<Watch>>(TYPE_ORDER.map((t) => [t, new Set<Watch>()]));
  private readonly logger: Logger;
  private readonly metrics: SnapshotMetrics | undefined;
  private readonly now: () => number;
  private publishedAt: number | undefined;
  private failures = 0;
  private lastError: SnapshotStatus['lastError'] = null;

  constructor(opts: SnapshotCacheOptions) {
    this.logger = opts.logger;
    this.metrics = opts.metricsRegistry ? new SnapshotMetrics(opts.metricsRegistry) : undefined;
    this.now = opts.now ?? Date.now;
  }

  /** The snapshot served to every node that is not a canary of a rollout. */
  getSnapshot(): Snapshot | undefined {
    return this.current;
  }

  /** The candidate and its canaries while a rollout is under way. */
  getCanary(): CanarySnapshot | undefined {
    return this.canary;
  }

  /** What a node is served: the candidate for a canary, else the current snapshot. */
  snapshotFor(nodeId: string | undefined): Snapshot | undefined {
    const c = this.canary;
    return c && nodeId !== undefined && c.nodeIds.has(nodeId) ? c.snapshot : this.current;
  }

  /**
   * Publishes `snapshot` and answers every open watch whose answer changed, type by type in
   * ADS push order (CDS, EDS, LDS, RDS: xds_protocol.rst "Eventual consistency
   * considerations"), so each stream receives its updates in that order.
   * `canary`: the candidate of a rollout and the node ids it goes to (the others get `snapshot`);
   * omitted, every node gets `snapshot`.
   * @throws SnapshotInconsistentError, keeping the previous snapshot, when it is inconsistent.
   */
  setSnapshot(snapshot: Snapshot, canary?: CanarySnapshot): void {
    const problems = [...snapshot.consistent(), ...(canary ? canary.snapshot.consistent().map((p) => `candidate: ${p}`) : [])];
    if (problems.length > 0) {
      const err = new SnapshotInconsistentError(problems);
      this.failures++;
      this.metrics?.publishFailures.inc();
      this.lastError = { message: err.message, problems, at: new Date(this.now()).toISOString() };
      this.logger.error({ problems }, 'xds cache: refused an inconsistent snapshot; still serving the previous one');
      throw err;
    }
    const previous = this.current;
    this.current = snapshot;
    this.canary = canary;
    this.publishedAt = this.now();
    this.metrics?.published(snapshot);
    const versions = snapshot.versions();
    // Republishing identical content (every DNS poll may) is routine: debug, not info.
    const changed = !previous || TYPE_ORDER.some((t) => previous.version(t) !== versions[t]);
    this.logger[changed ? 'info' : 'debug']({ versions }, 'xds cache: snapshot published');
    for (const typeUrl of TYPE_ORDER) {
      const set = this.watches.get(typeUrl);
      if (!set) continue;
      for (const w of [...set]) {
        const chosen = this.snapshotFor(w.req.nodeId);
        if (set.has(w) && chosen) this.tryAnswer(set, w, chosen);
      }
    }
  }

  /**
   * Opens a one-shot SotW watch. `respond` is called at most once, possibly before this
   * returns (when the current snapshot already answers it). Call the result to drop it.
   */
  createSotwWatch(req: SotwWatchRequest, respond: (a: SotwAnswer) => void): Cancel {
    return this.add({ kind: 'sotw', req, respond });
  }

  /** The delta equivalent of createSotwWatch. */
  createDeltaWatch(req: DeltaWatchRequest, respond: (a: DeltaAnswer) => void): Cancel {
    return this.add({ kind: 'delta', req, respond });
  }

  /** Open watches; streams cancel theirs when they end, so this returns to 0 (tests check). */
  watchCount(): number {
    let n = 0;
    for (const set of this.watches.values()) n += set.size;
    return n;
  }

  status(): SnapshotStatus {
    return {
      versions: this.current ? this.current.versions() : {},
      publishedAt: this.publishedAt === undefined ? null : new Date(this.publishedAt).toISOString(),
      publishFailures: this.failures,
      lastError: this.lastError,
    };
  }

  private add(w: Watch): Cancel {
    const set = this.watches.get(w.req.typeUrl);
    if (!set) throw new Error(`xds cache: no watches for type URL ${w.req.typeUrl}`);
    set.add(w);
    const chosen = this.snapshotFor(w.req.nodeId);
    if (chosen) this.tryAnswer(set, w, chosen);
    return () => {
      set.delete(w);
    };
  }

  private tryAnswer(set: Set<Watch>, w: Watch, snapshot: Snapshot): void {
    try {
      if (w.kind === 'sotw') {
        const a = sotwAnswer(snapshot, w.req);
        if (!a) return;
        set.delete(w);
        w.respond(a);
      } else {
        const a = deltaAnswer(snapshot, w.req);
        if (!a) return;
        set.delete(w);
        w.respond(a);
      }
    } catch (err) {
      // One broken stream must not keep the others from their update.
      set.delete(w);
      this.logger.error({ err, typeUrl: w.req.typeUrl }, 'xds cache: answering a watch failed');
    }
  }
}
