// Scenarios od, lr, hb (issue 19): balancing that sees health, side by side with plain round robin in
// one run, over the bench cluster (3 httpgrpc distributors in the peers process, told to fail or slow).
//  od  sick distributor: 1 of 3 answers 503 to every push; a real Prometheus remote-writes through the
//      gateway for BENCH_OD_SECONDS (default 60): samples retried, failed, dropped, outlier detection vs RR.
//  lr  slow distributor: 1 of 3 adds 50 ms; wrk pushes: p99 and the slow one's share, least_request vs RR.
//  hb  healthy fleet: CPU per request and balance max/min with least_request + outlier detection vs RR.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { findPrometheus, remoteWriteCounters, startPrometheus, type RemoteWriteCounters } from '../../test/support/prometheus.js';
import { cluster, waitReadyEndpoints, type Cluster } from '../lib/cluster.js';
import { measure, type BenchContext, type Measurement } from '../lib/context.js';
import { loadAverage } from '../lib/proc.js';
import { fmt, maxMin, median, ratio, sleep, table } from '../lib/report.js';
import { distributorConfig, gateway, type GatewayTarget } from '../lib/targets.js';
import type { PeerCounts } from '../lib/peers-protocol.js';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { EndpointBalancer, callResult } from '../../data-plane/httpgrpc/balancer.js';
import { HttpGrpcMetrics } from '../../data-plane/httpgrpc/metrics.js';
import { OUTLIER_DEFAULTS, type BalancingPolicy } from '../../core/balancing.js';

const OUTLIER = (extra = ''): string =>
  `      outlier_detection:\n        enabled: true\n        consecutive_5xx: 5\n        interval: 1s\n        base_ejection_time: 30s\n        max_ejection_percent: 34\n${extra}`;
const LEAST_REQUEST = '      load_balancing: least_request\n';
/** Series the synthetic scrape target exposes (samples per scrape). */
const SERIES = 2000;
/** Below saturation on a 2-core machine, so a fast distributor's queue stays short and the 50 ms show. */
const LR_CONNECTIONS = 16;

function deltas(before: PeerCounts, after: PeerCounts, keys: readonly string[]): number[] {
  return keys.map((k) => (after[k]?.requests ?? 0) - (before[k]?.requests ?? 0));
}

async function withGateway<T>(ctx: BenchContext, name: string, yaml: string, c: Cluster, run: (gw: GatewayTarget) => Promise<T>): Promise<T> {
  const gw = await gateway(ctx.dir, ctx.cpu.proxy, { name, configYaml: yaml });
  try {
    await waitReadyEndpoints(gw.url, c.keys.length);
    return await run(gw);
  } finally {
    await gw.stop();
  }
}

/** A scrape target with SERIES gauges, so Prometheus has a steady stream of samples to remote-write. */
async function seriesTarget(): Promise<{ server: Server; port: number }> {
  let tick = 0;
  const server = createServer((_req, res) => {
    tick++;
    const lines: string[] = ['# TYPE bench_series gauge'];
    for (let i = 0; i < SERIES; i++) lines.push(`bench_series{i="${i}"} ${tick + i}`);
    res.setHeader('content-type', 'text/plain; version=0.0.4');
    res.end(lines.join('\n') + '\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

function prometheusConfig(gatewayUrl: string, targetPort: number): string {
  return [
    'global: { scrape_interval: 1s, evaluation_interval: 1m }',
    'scrape_configs:',
    `  - { job_name: bench, static_configs: [ { targets: ["127.0.0.1:${targetPort}"] } ] }`,
    'remote_write:',
    `  - url: ${gatewayUrl}/api/v1/push`,
    '    headers: { X-Scope-OrgID: bench }',
    // Small batches sent often: many pushes per second, so round robin's 1-in-3 chance shows.
    '    queue_config: { max_samples_per_send: 100, batch_send_deadline: 1s, min_backoff: 30ms, max_backoff: 1s, min_shards: 2, max_shards: 4 }',
    '',
  ].join('\n');
}

interface SickResult {
  readonly counters: RemoteWriteCounters;
  readonly pushesToSick: number;
  readonly pushes: number;
}

async function sickRun(ctx: BenchContext, c: Cluster, name: string, yaml: string, seconds: number): Promise<SickResult> {
  const binary = findPrometheus();
  if (binary === undefined) throw new Error('scenario od needs prometheus on PATH (Debian package prometheus)');
  const target = await seriesTarget();
  try {
    return await withGateway(ctx, name, yaml, c, async (gw) => {
      const before = await ctx.peers.counts();
      const prom = await startPrometheus({ binary, config: prometheusConfig(gw.url, target.port) });
      try {
        await sleep(seconds * 1000);
        const counters = remoteWriteCounters(await prom.metrics());
        const after = await ctx.peers.counts();
        const d = deltas(before, after, c.keys);
        ctx.log(`od ${name}: sent ${counters.sent} retried ${counters.retried} failed ${counters.failed} dropped ${counters.dropped}; pushes ${d.join('/')}`);
        return { counters, pushesToSick: d[0]!, pushes: d.reduce((a, b) => a + b, 0) };
      } finally {
        await prom.stop();
      }
    });
  } finally {
    target.server.close();
  }
}

export async function sickDistributor(ctx: BenchContext): Promise<{ md: string; json: Record<string, unknown> }> {
  const c = await cluster(ctx);
  const seconds = Number(process.env['BENCH_OD_SECONDS']) || 60;
  await ctx.peers.behave(c.keys[0]!, 503);
  const load = loadAverage();
  try {
    const rr = await sickRun(ctx, c, 'gateway-od-rr', distributorConfig(c.url), seconds);
    const od = await sickRun(ctx, c, 'gateway-od-on', distributorConfig(c.url, OUTLIER()), seconds);
    const row = (label: string, r: SickResult): string[] => [
      label, String(r.counters.sent), String(r.counters.retried), String(r.counters.failed), String(r.counters.dropped), `${r.pushesToSick} of ${r.pushes}`,
    ];
    const md = [
      `## od: sick distributor (1 of 3 answers 503), real Prometheus remote-writing ${seconds} s (${SERIES} series/s, 100 samples per push)`,
      '',
      `Load average at start: ${load}.`,
      '',
      table(['gateway', 'samples sent', 'samples retried', 'failed', 'dropped', 'pushes to the sick one'], [
        row('round robin', rr),
        row('outlier detection (consecutive_5xx 5, base 30 s, max 34 %)', od),
      ]),
      '',
      `Retried samples, round robin / outlier detection: ${od.counters.retried === 0 ? `∞ (${rr.counters.retried} vs 0)` : ratio(rr.counters.retried, od.counters.retried)} (target ≥ 20×).`,
      '',
    ].join('\n');
    return { md, json: { seconds, load, rr, od } };
  } finally {
    await ctx.peers.behave(c.keys[0]!, 200);
  }
}

interface LoadRound {
  readonly m: Measurement;
  readonly counts: number[];
}

async function rounds(ctx: BenchContext, c: Cluster, gws: readonly GatewayTarget[], connections = 50): Promise<LoadRound[][]> {
  const out: LoadRound[][] = gws.map(() => []);
  for (const gw of gws) await measure(ctx, { url: `${gw.url}/api/v1/push`, child: undefined, seconds: ctx.warmupSeconds });
  for (let r = 0; r < ctx.rounds; r++) {
    for (const [i, gw] of gws.entries()) {
      const before = await ctx.peers.counts();
      const m = await measure(ctx, { url: `${gw.url}/api/v1/push`, child: gw.child, seconds: ctx.seconds, connections });
      const counts = deltas(before, await ctx.peers.counts(), c.keys);
      ctx.log(`${gw.name} round ${r + 1}: ${fmt(m.rps, 0)} req/s p99 ${fmt(m.p99Ms)} ms, ${counts.join('/')}, ${fmt(m.cpuUsPerReq)} µs CPU/req`);
      out[i]!.push({ m, counts });
    }
  }
  return out;
}

async function twoGateways<T>(ctx: BenchContext, c: Cluster, a: [string, string], b: [string, string], run: (gws: GatewayTarget[]) => Promise<T>): Promise<T> {
  return withGateway(ctx, a[0], a[1], c, (ga) => withGateway(ctx, b[0], b[1], c, (gb) => run([ga, gb])));
}

export async function slowDistributor(ctx: BenchContext): Promise<{ md: string; json: Record<string, unknown> }> {
  const c = await cluster(ctx);
  await ctx.peers.behave(c.keys[0]!, 200, 50);
  const load = loadAverage();
  try {
    const [rr, lr] = await twoGateways(ctx, c, ['gateway-lr-rr', distributorConfig(c.url)], ['gateway-lr-on', distributorConfig(c.url, LEAST_REQUEST)], (gws) => rounds(ctx, c, gws, LR_CONNECTIONS));
    const summary = (rs: LoadRound[]) => ({
      p99: median(rs.map((r) => r.m.p99Ms)),
      p50: median(rs.map((r) => r.m.p50Ms)),
      rps: median(rs.map((r) => r.m.rps)),
      share: median(rs.map((r) => r.counts[0]! / Math.max(1, r.counts.reduce((x, y) => x + y, 0)))),
      errors: rs.reduce((n, r) => n + r.m.errors + r.m.non2xx, 0),
    });
    const s = { rr: summary(rr!), lr: summary(lr!) };
    const md = [
      `## lr: slow distributor (1 of 3 adds 50 ms), wrk ${LR_CONNECTIONS} connections`,
      '',
      `Load average at start: ${load}. ${ctx.rounds} rounds × ${ctx.seconds} s, medians.`,
      '',
      table(['gateway', 'req/s', 'p50 ms', 'p99 ms', "slow one's share", 'errors'], [
        ['round robin', fmt(s.rr.rps, 0), fmt(s.rr.p50), fmt(s.rr.p99), fmt(s.rr.share, 3), String(s.rr.errors)],
        ['least_request', fmt(s.lr.rps, 0), fmt(s.lr.p50), fmt(s.lr.p99), fmt(s.lr.share, 3), String(s.lr.errors)],
      ]),
      '',
      `least_request / round robin: p99 ${ratio(s.lr.p99, s.rr.p99)}, slow share ${ratio(s.lr.share, s.rr.share)}, req/s ${ratio(s.lr.rps, s.rr.rps)}.`,
      '',
    ].join('\n');
    return { md, json: { load, ...s } };
  } finally {
    await ctx.peers.behave(c.keys[0]!, 200, 0);
  }
}

/**
 * The balancer's own cost per request, in-process: pick + outcome report over 3 READY endpoints, with
 * nothing else on the path (the end-to-end CPU figure on a busy 2-core machine moves by ±10 % between
 * runs; this one does not). ns per request.
 */
function balancerNs(policy: BalancingPolicy, n = 2_000_000): number {
  const b = new EndpointBalancer<{ address: string; state: 'READY'; inFlight: number }>({
    backend: 'bench', logger: pino({ level: 'silent' }), metrics: new HttpGrpcMetrics(new Registry()),
  });
  const eps = ['127.0.0.2:9095', '127.0.0.3:9095', '127.0.0.4:9095'].map((address) => ({ address, state: 'READY' as const, inFlight: 0 }));
  b.setPolicy(policy);
  b.rebuild(eps);
  const ok = { kind: 'response', response: { code: 200 } } as const;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const e = b.pick()!;
    const r = callResult(ok);
    if (r !== undefined) b.record(e.address, r);
  }
  const ns = Number(process.hrtime.bigint() - t0) / n;
  b.close();
  return ns;
}

export async function healthyOverhead(ctx: BenchContext): Promise<{ md: string; json: Record<string, unknown> }> {
  const c = await cluster(ctx);
  const load = loadAverage();
  const [rr, both] = await twoGateways(ctx, c, ['gateway-hb-rr', distributorConfig(c.url)], ['gateway-hb-on', distributorConfig(c.url, LEAST_REQUEST + OUTLIER())], (gws) => rounds(ctx, c, gws));
  const summary = (rs: LoadRound[]) => ({
    cpu: median(rs.map((r) => r.m.cpuUsPerReq ?? NaN)),
    rps: median(rs.map((r) => r.m.rps)),
    maxMin: median(rs.map((r) => maxMin(r.counts))),
    errors: rs.reduce((n, r) => n + r.m.errors + r.m.non2xx, 0),
  });
  const s = { rr: summary(rr!), both: summary(both!) };
  const micro = { rr: median([1, 2, 3].map(() => balancerNs({ loadBalancing: 'round_robin' }))), both: median([1, 2, 3].map(() => balancerNs({ loadBalancing: 'least_request', outlierDetection: OUTLIER_DEFAULTS }))) };
  const md = [
    '## hb: healthy fleet, round robin vs least_request + outlier detection (wrk 50 connections)',
    '',
    `Load average at start: ${load}. ${ctx.rounds} rounds × ${ctx.seconds} s, medians; CPU = the gateway process's user+system per request.`,
    '',
    table(['gateway', 'req/s', 'µs CPU/request', 'balance max/min', 'errors'], [
      ['round robin', fmt(s.rr.rps, 0), fmt(s.rr.cpu), fmt(s.rr.maxMin, 3), String(s.rr.errors)],
      ['least_request + outlier detection', fmt(s.both.rps, 0), fmt(s.both.cpu), fmt(s.both.maxMin, 3), String(s.both.errors)],
    ]),
    '',
    `CPU per request, both features / round robin: ${ratio(s.both.cpu, s.rr.cpu)} (target within 3 %).`,
    `The balancer alone, in-process (pick + outcome report, 3 endpoints): round robin ${fmt(micro.rr)} ns, least_request + outlier detection ${fmt(micro.both)} ns per request: ` +
      `${fmt(((micro.both - micro.rr) / 1000 / s.rr.cpu) * 100, 3)} % of the gateway's ${fmt(s.rr.cpu)} µs per request.`,
    '',
  ].join('\n');
  return { md, json: { load, ...s, balancerNs: micro } };
}
