// Polls DNS for every `dns://` target in use and reports endpoint sets when they change.
// grpc-js (like grpc-go) re-resolves only after a connection fails, so a new distributor replica gets no
// traffic until something breaks (grafana/mimir#2862, grpc/grpc-node#2455). We poll instead, like Envoy's
// STRICT_DNS clusters (dns_refresh_rate 5 s, TTL-aware with respect_dns_ttl), and push the sets over xDS.

import type { Logger } from 'pino';
import { Counter, Gauge } from 'prom-client';
import type { Registry } from 'prom-client';
import type { DnsTarget, Endpoint } from '../../core/model.js';
import { dnsTargetKey, formatHostPort } from '../../core/model.js';
import { AnswerHold, HOLD_WINDOW } from './answer-hold.js';
import type { AnswerMode } from './answer-hold.js';
import { resolveDnsTarget } from './resolver.js';
import type { DnsResolution, ResolveFn } from './resolver.js';

/** Where endpoint sets come from; the xDS snapshot builder sees only this. */
export interface EndpointSource {
  /**
   * Reports the endpoints of `target`: once as soon as a first good answer is known (on a microtask, never
   * inside `watch` itself), then again only when the set changes. Before the first good answer nothing is
   * reported: an unresolved target has no endpoints, and callers treat "not yet reported" as empty.
   * Returns a cancel function (idempotent).
   */
  watch(target: DnsTarget, onChange: (endpoints: readonly Endpoint[]) => void): () => void;
}

export interface DnsWatcherOptions {
  /** Poll period, ms. Default 5000 (Envoy's STRICT_DNS dns_refresh_rate default). */
  readonly lookupPeriodMs?: number;
  /** Lower bound between two lookups of one target, ms, however short the TTL. Default 1000. */
  readonly minIntervalMs?: number;
  readonly logger: Logger;
  readonly registry: Registry;
  /** Replaces the real resolver (unit tests). */
  readonly resolve?: ResolveFn;
}

/** Per-target state for the status API. Times are epoch milliseconds. */
export interface DnsTargetStatus {
  readonly target: string;
  readonly watchers: number;
  /** The set published to subscribers; empty until the first good answer. */
  readonly endpoints: readonly Endpoint[];
  /** Smallest TTL of the last good answer; undefined for literals and /etc/hosts. */
  readonly ttlSeconds: number | undefined;
  /** Whether the last good answer was taken as the whole set (see answer-hold.ts). */
  readonly answerMode: AnswerMode;
  /** Endpoints in the last good answer (differs from `endpoints` while the set is held). */
  readonly answerEndpoints: number;
  /** Times a new set was handed to subscribers. */
  readonly publishes: number;
  readonly lastSuccessAtMs: number | undefined;
  /** The most recent failed lookup, kept after later successes (compare times). */
  readonly lastError: { readonly atMs: number; readonly outcome: string; readonly reason: string } | undefined;
  /** Undefined while a lookup is in flight, or for an IP literal (never looked up again). */
  readonly nextLookupAtMs: number | undefined;
}

export type LookupOutcomeLabel = 'ok' | 'empty' | 'nxdomain' | 'servfail' | 'refused' | 'timeout' | 'error';

/** A bounded label set: node:dns codes folded into the failures an operator acts on differently. */
export function outcomeLabel(result: DnsResolution): LookupOutcomeLabel {
  if (result.outcome !== 'error') return result.outcome;
  switch (result.code) {
    case 'ESERVFAIL':
      return 'servfail';
    case 'EREFUSED':
      return 'refused';
    case 'ETIMEOUT':
      return 'timeout';
    default:
      return 'error';
  }
}

interface Subscriber {
  readonly onChange: (endpoints: readonly Endpoint[]) => void;
  active: boolean;
  /** The set last delivered (by reference), so a set is never delivered twice to one subscriber. */
  delivered: readonly Endpoint[] | undefined;
}

interface Metrics {
  readonly lookups: Counter<'target' | 'outcome'>;
  readonly endpoints: Gauge<'target'>;
}

function metricsOn(registry: Registry): Metrics {
  // Several watchers may share one registry (tests, restarts): reuse what is registered.
  const lookups =
    registry.getSingleMetric('control_plane_dns_lookups_total') ??
    new Counter({
      name: 'control_plane_dns_lookups_total',
      help: 'DNS lookups of dns:// backend targets, by outcome.',
      labelNames: ['target', 'outcome'] as const,
      registers: [registry],
    });
  const endpoints =
    registry.getSingleMetric('control_plane_dns_endpoints') ??
    new Gauge({
      name: 'control_plane_dns_endpoints',
      help: 'Endpoints in the last good DNS answer of a dns:// backend target.',
      labelNames: ['target'] as const,
      registers: [registry],
    });
  return { lookups: lookups as Counter<'target' | 'outcome'>, endpoints: endpoints as Gauge<'target'> };
}

/** One resolution loop, shared by every watcher of one target. */
class TargetLoop {
  readonly subscribers = new Set<Subscriber>();
  endpoints: readonly Endpoint[] | undefined;
  ttlSeconds: number | undefined;
  lastSuccessAtMs: number | undefined;
  lastError: DnsTargetStatus['lastError'];
  nextLookupAtMs: number | undefined;
  answerEndpoints = 0;
  publishes = 0;
  readonly hold = new AnswerHold();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    readonly key: string,
    private readonly target: DnsTarget,
    private readonly opts: { periodMs: number; minIntervalMs: number; resolve: ResolveFn; logger: Logger; metrics: Metrics },
  ) {}

  start(): void {
    this.opts.metrics.endpoints.set({ target: this.key }, 0);
    void this.lookup();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.opts.metrics.endpoints.remove({ target: this.key });
  }

  /** Hands the current set to `sub` unless it already has it. */
  deliver(sub: Subscriber): void {
    const current = this.endpoints;
    if (!sub.active || current === undefined || sub.delivered === current) return;
    sub.delivered = current;
    try {
      sub.onChange(current);
    } catch (err) {
      // One faulty subscriber must not stop the loop or starve the others.
      this.opts.logger.error({ target: this.key, err }, 'dns watcher subscriber threw');
    }
  }

  private async lookup(): Promise<void> {
    this.timer = undefined;
    this.nextLookupAtMs = undefined;
    const startedAtMs = Date.now();
    let result: DnsResolution;
    try {
      result = await this.opts.resolve(this.target);
    } catch (err) {
      result = { outcome: 'error', code: 'EUNEXPECTED', reason: err instanceof Error ? err.message : String(err) };
    }
    if (this.stopped) return;
    const { logger, metrics } = this.opts;
    const outcome = outcomeLabel(result);
    metrics.lookups.inc({ target: this.key, outcome });

    if (result.outcome === 'ok') {
      this.lastSuccessAtMs = Date.now();
      this.ttlSeconds = result.ttlSeconds;
      this.answerEndpoints = result.endpoints.length;
      const decision = this.hold.accept(result.endpoints, result.truncated === true);
      if (decision.modeChanged) this.logMode(decision.mode);
      if (decision.publish !== undefined) {
        this.endpoints = decision.publish;
        this.publishes++;
        metrics.endpoints.set({ target: this.key }, decision.publish.length);
        const listed = decision.publish.length <= 50 ? { endpoints: decision.publish.map((e) => formatHostPort(e.address, e.port)) } : {};
        logger.info(
          { target: this.key, count: decision.publish.length, ...listed, source: result.source, answerMode: decision.mode },
          'dns endpoints changed',
        );
        for (const sub of this.subscribers) this.deliver(sub);
      }
      // An IP literal never changes: no timer at all.
      if (result.source === 'literal') return;
    } else {
      // Keep the last good set (as dskit's DNS provider does): a flapping or empty answer must not
      // drain a healthy backend. A real scale-to-zero is therefore not reflected (documented gap).
      this.lastError = { atMs: Date.now(), outcome, reason: result.reason };
      logger.warn({ target: this.key, outcome, reason: result.reason }, 'dns lookup failed; keeping the last good endpoints');
    }
    this.schedule(startedAtMs, result);
  }

  private logMode(mode: AnswerMode): void {
    const fields = { target: this.key, answerMode: mode, answerEndpoints: this.answerEndpoints, heldEndpoints: this.endpoints?.length };
    if (mode === 'complete') this.opts.logger.info(fields, 'dns answers are complete again; publishing each answer');
    else {
      const why = mode === 'truncated' ? 'answers fill a whole 64 KiB DNS message' : 'same-size answers rotate through a larger set';
      this.opts.logger.warn(fields, `dns ${why}; holding the published endpoint set, refreshed every ${HOLD_WINDOW} lookups`);
    }
  }

  private schedule(startedAtMs: number, result: DnsResolution): void {
    const now = Date.now();
    let delayMs = this.opts.periodMs;
    // An answer is only valid for its TTL (RFC 1035 §3.2.1), so look again when it expires if that is sooner.
    // A TTL that is not a finite non-negative number (never trusted: a NaN delay fires at once) is ignored.
    const ttl = result.outcome === 'ok' ? result.ttlSeconds : undefined;
    if (ttl !== undefined && Number.isFinite(ttl) && ttl >= 0) delayMs = Math.min(delayMs, ttl * 1000);
    const at = Math.max(now + delayMs, startedAtMs + this.opts.minIntervalMs);
    this.nextLookupAtMs = at;
    this.timer = setTimeout(() => void this.lookup(), at - now);
    this.timer.unref();
  }
}

export class DnsWatcher implements EndpointSource {
  private readonly loops = new Map<string, TargetLoop>();
  private readonly periodMs: number;
  private readonly minIntervalMs: number;
  private readonly resolve: ResolveFn;
  private readonly logger: Logger;
  private readonly metrics: Metrics;
  private closed = false;

  constructor(options: DnsWatcherOptions) {
    this.periodMs = options.lookupPeriodMs ?? 5000;
    this.minIntervalMs = options.minIntervalMs ?? 1000;
    if (!(this.periodMs > 0)) throw new Error(`DnsWatcher: lookupPeriodMs must be > 0, got ${this.periodMs}`);
    if (!(this.minIntervalMs >= 0)) throw new Error(`DnsWatcher: minIntervalMs must be >= 0, got ${this.minIntervalMs}`);
    this.resolve = options.resolve ?? ((t) => resolveDnsTarget(t));
    this.logger = options.logger;
    this.metrics = metricsOn(options.registry);
  }

  watch(target: DnsTarget, onChange: (endpoints: readonly Endpoint[]) => void): () => void {
    if (this.closed) throw new Error('DnsWatcher.watch called after close()');
    const key = dnsTargetKey(target);
    let loop = this.loops.get(key);
    const isNew = loop === undefined;
    if (loop === undefined) {
      loop = new TargetLoop(key, target, {
        periodMs: this.periodMs,
        minIntervalMs: this.minIntervalMs,
        resolve: this.resolve,
        logger: this.logger,
        metrics: this.metrics,
      });
      this.loops.set(key, loop);
    }
    const sub: Subscriber = { onChange, active: true, delivered: undefined };
    loop.subscribers.add(sub);
    if (isNew) loop.start();
    else {
      const existing = loop;
      queueMicrotask(() => existing.deliver(sub));
    }
    const owner = loop;
    return () => {
      if (!sub.active) return;
      sub.active = false;
      owner.subscribers.delete(sub);
      if (owner.subscribers.size === 0) {
        owner.stop();
        if (this.loops.get(key) === owner) this.loops.delete(key);
      }
    };
  }

  snapshot(): DnsTargetStatus[] {
    return [...this.loops.values()]
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
      .map((l) => ({
        target: l.key,
        watchers: l.subscribers.size,
        endpoints: l.endpoints ?? [],
        ttlSeconds: l.ttlSeconds,
        answerMode: l.hold.mode,
        answerEndpoints: l.answerEndpoints,
        publishes: l.publishes,
        lastSuccessAtMs: l.lastSuccessAtMs,
        lastError: l.lastError,
        nextLookupAtMs: l.nextLookupAtMs,
      }));
  }

  /** Stops every loop; pending callbacks are dropped. */
  close(): void {
    this.closed = true;
    for (const loop of this.loops.values()) {
      for (const sub of loop.subscribers) sub.active = false;
      loop.stop();
    }
    this.loops.clear();
  }
}
