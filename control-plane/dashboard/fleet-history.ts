import type { BalancingPolicy } from '../../core/balancing.js';
import { dnsTargetKey, formatHostPort, type Backend, type Endpoint } from '../../core/model.js';

// What each published snapshot meant, in an operator's words: the backends (URL, kind, endpoints and
// where they came from) and, for the last 50 snapshots, what changed ("distributor: +127.0.0.5:9095",
// "query_frontend url http://a:8080 → http://b:8080"). Fed by the control plane after each publish;
// read by the dashboard. Bounded: 50 entries.

export interface BackendEndpointView {
  readonly address: string;
  /** "dns <target>" for an answer of a dns:// name, "url" for the host of an http(s):// URL. */
  readonly source: string;
}

export interface BackendView {
  readonly name: string;
  readonly url: string;
  readonly kind: 'http' | 'httpgrpc';
  /** The dns:// target key, for joining the DNS watcher's state. */
  readonly dnsTarget: string | null;
  readonly endpoints: readonly BackendEndpointView[];
  /** httpgrpc: "least_request, outlier detection (consecutive_5xx 5, ...)"; '' for http. */
  readonly balancing: string;
}

export interface HistoryEntry {
  readonly at: string;
  readonly versions: Readonly<Record<string, string>>;
  readonly changes: readonly string[];
}

export const HISTORY_LENGTH = 50;

export function backendViews(backends: readonly Backend[], answers: ReadonlyMap<string, readonly Endpoint[]>): BackendView[] {
  return backends.map((b) => {
    if (b.target.kind === 'http') {
      return { name: b.name, url: b.url, kind: 'http', dnsTarget: null, endpoints: [{ address: formatHostPort(b.target.host, b.target.port), source: 'url' }], balancing: '' };
    }
    const key = dnsTargetKey(b.target);
    if (b.zones !== undefined && b.zones.length > 0) {
      const endpoints = b.zones.flatMap((z) => (answers.get(dnsTargetKey(z.target)) ?? []).map((e) => ({ address: formatHostPort(e.address, e.port), source: `dns ${z.target.host} (zone ${z.zone})` })));
      return { name: b.name, url: b.url, kind: 'httpgrpc', dnsTarget: key, endpoints, balancing: describeBalancing(b.balancing) };
    }
    const eps = answers.get(key) ?? [];
    return {
      name: b.name,
      url: b.url,
      kind: 'httpgrpc',
      dnsTarget: key,
      endpoints: eps.map((e) => ({ address: formatHostPort(e.address, e.port), source: `dns ${b.target.kind === 'dns' ? b.target.host : ''}` })),
      balancing: describeBalancing(b.balancing),
    };
  });
}

/** A backend's balancing in an operator's words. */
export function describeBalancing(p: BalancingPolicy | undefined): string {
  const lb = p?.loadBalancing ?? 'round_robin';
  const od = p?.outlierDetection;
  if (od === undefined) return lb;
  return `${lb}, outlier detection (consecutive_5xx ${od.consecutive_5xx}, base_ejection_time ${od.base_ejection_time_ms / 1000}s, max_ejection_percent ${od.max_ejection_percent})`;
}

/** The differences between two backend sets, one line each. */
export function describeChanges(before: readonly BackendView[], after: readonly BackendView[]): string[] {
  const was = new Map(before.map((b) => [b.name, b]));
  const out: string[] = [];
  for (const b of after) {
    const old = was.get(b.name);
    was.delete(b.name);
    if (!old) {
      out.push(`${b.name}: added, url ${b.url}${b.endpoints.length > 0 ? ` (${b.endpoints.length} endpoints)` : ''}`);
      continue;
    }
    if (old.url !== b.url) out.push(`${b.name} url ${old.url} → ${b.url}`);
    if (old.balancing !== b.balancing) out.push(`${b.name} balancing ${old.balancing} → ${b.balancing}`);
    const oldEps = new Set(old.endpoints.map((e) => e.address));
    const newEps = new Set(b.endpoints.map((e) => e.address));
    const added = [...newEps].filter((a) => !oldEps.has(a)).map((a) => `+${a}`);
    const removed = [...oldEps].filter((a) => !newEps.has(a)).map((a) => `-${a}`);
    // A URL change replaces every endpoint; saying so per address would only repeat it.
    if (old.url === b.url && added.length + removed.length > 0) out.push(`${b.name}: ${[...added, ...removed].join(' ')}`);
  }
  for (const b of was.values()) out.push(`${b.name}: removed (was ${b.url})`);
  return out;
}

export class FleetHistory {
  private current: BackendView[] = [];
  private readonly entries: HistoryEntry[] = [];
  /** Grows with every entry. */
  generation = 0;

  constructor(private readonly now: () => number = Date.now) {}

  /** A snapshot was published for these backends and DNS answers. */
  published(backends: readonly Backend[], answers: ReadonlyMap<string, readonly Endpoint[]>, versions: Readonly<Record<string, string>>): void {
    const next = backendViews(backends, answers);
    const first = this.entries.length === 0;
    const changes = first ? [`first snapshot: ${next.map((b) => `${b.name} (${b.endpoints.length})`).join(', ')}`] : describeChanges(this.current, next);
    this.current = next;
    const last = this.entries[this.entries.length - 1];
    // A publish that changed nothing an operator sees (same versions) is not news.
    if (last && JSON.stringify(last.versions) === JSON.stringify(versions)) return;
    this.entries.push({ at: new Date(this.now()).toISOString(), versions, changes: changes.length > 0 ? changes : ['no backend or endpoint change'] });
    if (this.entries.length > HISTORY_LENGTH) this.entries.shift();
    this.generation++;
  }

  backends(): readonly BackendView[] {
    return this.current;
  }

  /** Newest first. */
  history(): readonly HistoryEntry[] {
    return [...this.entries].reverse();
  }
}
