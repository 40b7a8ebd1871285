import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import type { ConfigStatus } from '../config-watcher.js';
import type { BuildStatus } from '../control-plane.js';
import type { DnsTargetStatus } from '../dns/dns-watcher.js';
import type { LoadStore } from '../lrs/load-store.js';
import type { FleetView } from '../fleet/fleet-view.js';
import { summarize } from '../xds/node-query.js';
import type { SnapshotCache } from '../xds/snapshot-cache.js';
import { shortType } from '../../xds/resource.js';
import { EventStream } from './event-stream.js';
import type { FleetHistory } from './fleet-history.js';
import type { RolloutStatus } from '../rollout/rollouts.js';

// The fleet dashboard: GET /control-plane/ serves one page (web/dashboard, shipped in the package, and
// uPlot from its npm package: no CDN, clusters are often offline); the page reads the fleet table from
// /control-plane/api/v1/nodes one page at a time, the backends and config views below, and re-reads
// what changed when /control-plane/api/v1/events says so.

export interface DashboardDeps {
  /** The whole fleet (this replica merged with its peers): the page shows nothing else. */
  readonly fleet: FleetView;
  readonly cache: SnapshotCache;
  readonly load: LoadStore;
  readonly history: FleetHistory;
  build(): BuildStatus;
  dns(): readonly DnsTargetStatus[];
  config(): ConfigStatus | undefined;
  /** The rollout under way and the last ones (omitted: the page shows no rollout section). */
  rollout?(): RolloutStatus;
}

const iso = (ms: number | undefined): string | null => (ms === undefined ? null : new Date(ms).toISOString());

/** The folder holding index.html, found from here in the source tree and in dist/ alike. */
function webDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = path.join(dir, 'web', 'dashboard');
    if (existsSync(path.join(candidate, 'index.html'))) return candidate;
    dir = path.dirname(dir);
  }
  throw new Error('dashboard: web/dashboard/index.html not found next to the package');
}

/** Files the page loads, by the name it asks for: ours from web/dashboard, uPlot from its package. */
function assets(): Map<string, { file: string; type: string }> {
  const web = webDir();
  const uplot = path.join(path.dirname(createRequire(import.meta.url).resolve('uplot/package.json')), 'dist');
  return new Map([
    ['index.html', { file: path.join(web, 'index.html'), type: 'text/html; charset=utf-8' }],
    ['app.js', { file: path.join(web, 'app.js'), type: 'text/javascript; charset=utf-8' }],
    ['app.css', { file: path.join(web, 'app.css'), type: 'text/css; charset=utf-8' }],
    ['uPlot.iife.min.js', { file: path.join(uplot, 'uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8' }],
    ['uPlot.min.css', { file: path.join(uplot, 'uPlot.min.css'), type: 'text/css; charset=utf-8' }],
  ]);
}

/** Outlier ejection across the fleet: by how many of the gateways reporting this backend. */
function ejectedOf(l: { readonly ejectedBy: number; readonly reporters: number } | undefined): { ejectedBy: number; reporters: number } {
  return { ejectedBy: l?.ejectedBy ?? 0, reporters: l?.reporters ?? 0 };
}

export function backendsView(deps: DashboardDeps): unknown {
  const clusters = new Map(deps.fleet.clusters().map((c) => [c.name, c]));
  const dns = new Map(deps.dns().map((d) => [d.target, d]));
  return deps.history.backends().map((b) => {
    const load = clusters.get(b.name);
    const byAddress = new Map((load?.endpoints ?? []).map((e) => [e.address, e]));
    const d = b.dnsTarget === null ? undefined : dns.get(b.dnsTarget);
    const endpoints = b.endpoints.map((e) => {
      const l = byAddress.get(e.address);
      byAddress.delete(e.address);
      return { ...e, lastSeenInDns: d ? iso(d.lastSuccessAtMs) : null, share: l?.share ?? 0, issued: l?.issued ?? 0, failed: l?.failed ?? 0, errorRate: l?.errorRate ?? 0, ...ejectedOf(l) };
    });
    // Endpoints that still had traffic in the last minute but are no longer in the config or DNS.
    for (const l of byAddress.values()) {
      endpoints.push({ address: l.address, source: 'reported, not served any more', lastSeenInDns: null, share: l.share, issued: l.issued, failed: l.failed, errorRate: l.errorRate, ...ejectedOf(l) });
    }
    return { name: b.name, url: b.url, kind: b.kind, balancing: b.balancing, windowSeconds: deps.load.windowSeconds, imbalance: load?.imbalance ?? null, lastMinute: load?.lastMinute ?? null, series: load?.series ?? [], endpoints };
  });
}

export function configView(deps: DashboardDeps): unknown {
  const status = deps.cache.status();
  const config = deps.config();
  return {
    versions: Object.fromEntries(Object.entries(status.versions).map(([t, v]) => [shortType(t), v])),
    publishedAt: status.publishedAt,
    configFile: config?.file ?? null,
    configError: config?.lastError ? { message: config.lastError.message, at: iso(config.lastError.atMs), lastGoodServed: status.publishedAt !== null } : null,
    buildError: deps.build().lastError,
    dns: deps.dns().map((d) => ({
      target: d.target,
      endpoints: d.endpoints.map((e) => (e.address.includes(':') ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`)),
      ttlSeconds: d.ttlSeconds ?? null,
      lastSuccessAt: iso(d.lastSuccessAtMs),
      lastError: d.lastError ? { at: iso(d.lastError.atMs), outcome: d.lastError.outcome, reason: d.lastError.reason } : null,
      nextLookupAt: iso(d.nextLookupAtMs),
    })),
    history: deps.fleet.history(),
  };
}

/** Changes whenever anything the Config view shows changes. */
function configSignature(deps: DashboardDeps): string {
  const c = deps.config();
  const b = deps.build().lastError;
  const parts = [deps.fleet.historyGeneration, deps.history.generation, deps.cache.status().publishedAt, c?.hash, c?.lastError?.atMs, b?.at];
  for (const d of deps.dns()) parts.push(d.target, d.lastSuccessAtMs, d.lastError?.atMs, d.endpoints.length);
  return createHash('sha1').update(JSON.stringify(parts)).digest('base64url').slice(0, 12);
}

/** What tells the page to re-read the rollout: its ends, and every tick while one bakes (time left). */
function rolloutTick(deps: DashboardDeps): { rollout: string; rolloutActive: boolean } {
  const r = deps.rollout?.();
  if (!r) return { rollout: '', rolloutActive: false };
  const key = JSON.stringify([r.active?.id, r.active?.canaries, r.recent[0]?.id, r.recent[0]?.endedAt, r.rejected.map((x) => x.id), r.enabled]);
  return { rollout: createHash('sha1').update(key).digest('base64url').slice(0, 12), rolloutActive: r.active !== null };
}

export function registerDashboard(app: FastifyInstance, deps: DashboardDeps): void {
  const files = assets();
  const events = new EventStream({
    payload: () => ({
      nodes: deps.fleet.nodesGeneration,
      load: deps.fleet.loadGeneration,
      config: configSignature(deps),
      summary: summarize(deps.fleet.nodes()),
      replica: deps.fleet.replica,
      peers: deps.fleet.peerStatus(),
      windowSeconds: deps.load.windowSeconds,
      ...rolloutTick(deps),
    }),
  });
  deps.fleet.onChange(() => events.changed());
  app.addHook('preClose', (done) => {
    events.close();
    done();
  });

  app.get('/control-plane', async (_req, reply) => reply.redirect('/control-plane/'));
  app.get('/control-plane/', async (_req, reply) => serve(reply, 'index.html'));
  app.get<{ Params: { file: string } }>('/control-plane/assets/:file', async (req, reply) => serve(reply, req.params.file));
  function serve(reply: import('fastify').FastifyReply, name: string): unknown {
    const asset = files.get(name);
    if (!asset) return reply.code(404).send({ error: `no dashboard asset ${JSON.stringify(name)}` });
    return reply.type(asset.type).header('cache-control', 'no-cache').send(readFileSync(asset.file));
  }

  app.get('/control-plane/api/v1/events', (req, reply) => {
    reply.hijack();
    events.add(reply.raw);
    req.raw.on('close', () => reply.raw.end());
  });
  app.get('/control-plane/api/v1/dashboard/backends', async () => ({ backends: backendsView(deps), zones: deps.fleet.zoneMatrix() }));
  app.get('/control-plane/api/v1/dashboard/config', async () => configView(deps));
}
