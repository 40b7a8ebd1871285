// Scenario c: how evenly requests from keep-alive clients spread over 3 distributors. metrics-gateway
// (httpgrpc, round-robin per request) against an L4 balancer (HAProxy `mode tcp` over 3 HTTP backends:
// one balancing decision per connection, as a Kubernetes Service makes). 50 clients as the issue asks,
// and 5 clients (a handful of Prometheus shards), where per-connection balancing shows most.

import { cluster, DISTRIBUTOR_HOSTS, waitReadyEndpoints } from '../lib/cluster.js';
import { measure, type BenchContext } from '../lib/context.js';
import { fmt, maxMin, median, table } from '../lib/report.js';
import { distributorConfig, gateway, haproxyTcp, type Target } from '../lib/targets.js';
import type { PeerCounts } from '../lib/peers-protocol.js';

interface Case {
  readonly label: string;
  readonly target: Target;
  readonly keys: readonly string[];
  readonly clients: number;
}

interface Round {
  readonly requests: number[];
  readonly connections: number[];
  readonly maxMin: number;
  readonly rps: number;
}

/** max/min, or why there is none: a distributor that got no request at all. */
function spread(x: number): string {
  return Number.isFinite(x) ? fmt(x, 3) : '∞ (one got none)';
}

function delta(before: PeerCounts, after: PeerCounts, keys: readonly string[], field: 'requests' | 'connections'): number[] {
  return keys.map((k) => (after[k]?.[field] ?? 0) - (before[k]?.[field] ?? 0));
}

export async function balance(ctx: BenchContext): Promise<{ md: string; json: Record<string, unknown> }> {
  const started: Target[] = [];
  let httpKeys: string[] = [];
  try {
    const c = await cluster(ctx);
    const gw = await gateway(ctx.dir, ctx.cpu.proxy, { name: 'gateway-balance', configYaml: distributorConfig(c.url) });
    started.push(gw);
    await waitReadyEndpoints(gw.url, 3);
    const httpPort = await ctx.peers.http(DISTRIBUTOR_HOSTS);
    httpKeys = DISTRIBUTOR_HOSTS.map((h) => `${h}:${httpPort}`);
    const rr = await haproxyTcp(ctx.dir, ctx.cpu.proxy, httpKeys, 'roundrobin');
    const random = await haproxyTcp(ctx.dir, ctx.cpu.proxy, httpKeys, 'random');
    started.push(rr, random);

    const cases: Case[] = [];
    for (const clients of [50, 5]) {
      cases.push({ label: 'metrics-gateway (httpgrpc, per request)', target: gw, keys: c.keys, clients });
      cases.push({ label: 'HAProxy mode tcp, balance roundrobin', target: rr, keys: httpKeys, clients });
      cases.push({ label: 'HAProxy mode tcp, balance random (kube-proxy iptables-like)', target: random, keys: httpKeys, clients });
    }
    const results = new Map<Case, Round[]>(cases.map((k) => [k, []]));
    await measure(ctx, { url: `${gw.url}/api/v1/push`, child: undefined, seconds: ctx.warmupSeconds });
    for (let round = 1; round <= ctx.rounds; round++) {
      for (const k of cases) {
        const before = await ctx.peers.counts();
        // Every wrk run opens fresh connections: the L4 balancer decides anew, as after a client restart.
        const m = await measure(ctx, { url: `${k.target.url}/api/v1/push`, child: undefined, seconds: ctx.seconds, connections: k.clients });
        const after = await ctx.peers.counts();
        const requests = delta(before, after, k.keys, 'requests');
        const r: Round = { requests, connections: delta(before, after, k.keys, 'connections'), maxMin: maxMin(requests), rps: m.rps };
        ctx.log(`balance round ${round} ${k.label} ${k.clients} clients: ${requests.join('/')} max/min ${fmt(r.maxMin, 3)}`);
        results.get(k)!.push(r);
      }
    }

    const rows = cases.map((k) => {
      const rounds = results.get(k)!;
      const sorted = [...rounds].sort((x, y) => x.maxMin - y.maxMin);
      const mid = sorted[Math.floor(sorted.length / 2)]!;
      const worst = sorted.at(-1)!;
      const isL4 = k.target !== gw;
      return {
        k,
        cells: [
          k.label,
          String(k.clients),
          mid.requests.join(' / '),
          isL4 ? mid.connections.join(' / ') : '(3 HTTP/2 conns)',
          spread(mid.maxMin),
          spread(worst.maxMin),
          fmt(median(rounds.map((r) => r.rps)), 0),
        ],
        rounds,
      };
    });
    const md = [
      '### c. Balance over 3 distributors',
      '',
      table(['balancer', 'clients', 'requests per distributor (median round)', 'client connections per distributor', 'max/min (median round)', `max/min (worst of ${ctx.rounds})`, 'req/s'], rows.map((r) => r.cells)),
      '',
      'Each round is a fresh wrk run (new connections, so the L4 balancer decides again, as after client restarts).',
      '',
    ].join('\n');
    return { md, json: Object.fromEntries(rows.map((r) => [`${r.k.label} / ${r.k.clients}`, r.rounds])) };
  } finally {
    for (const t of started.reverse()) await t.stop().catch(() => undefined);
    if (httpKeys.length > 0) await ctx.peers.stopPeers(httpKeys).catch(() => undefined);
  }
}
