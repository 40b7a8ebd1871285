// Scenario z (issue 20): zone-aware balancing. 3 zones of httpgrpc distributors (one DNS name each, as
// Mimir's per-zone Services) in the peers process; one gateway per zone (-gateway.xds.locality-zone),
// and the same gateways without a zone (plain round robin over all), measured in turn with wrk.
//  balanced: 3 + 3 + 3 distributors; unbalanced: 1 + 3 + 3. Gateways are spread evenly (one per zone).
// Cross-zone share = requests from a zone-X gateway to distributors outside X (bytes: every push is the
// same body), averaged over the gateways; per-distributor load = the sum of each gateway's fractions.

import type { BenchContext } from '../lib/context.js';
import { measure } from '../lib/context.js';
import { loadAverage } from '../lib/proc.js';
import { fmt, median, ratio, table } from '../lib/report.js';
import { gateway, type GatewayTarget } from '../lib/targets.js';
import { waitReadyEndpoints } from '../lib/cluster.js';
import type { PeerCounts } from '../lib/peers-protocol.js';

const ZONES = ['zone-a', 'zone-b', 'zone-c'] as const;
const HOSTS: Record<(typeof ZONES)[number], string[]> = {
  'zone-a': ['127.0.1.2', '127.0.1.3', '127.0.1.4'],
  'zone-b': ['127.0.1.5', '127.0.1.6', '127.0.1.7'],
  'zone-c': ['127.0.1.8', '127.0.1.9', '127.0.1.10'],
};

interface CaseResult {
  readonly crossZone: number;
  readonly maxMin: number;
  readonly cpuUsPerReq: number;
  readonly errors: number;
}

export async function zones(ctx: BenchContext): Promise<{ md: string; json: Record<string, unknown> }> {
  const dnsPort = await ctx.peers.dns();
  const port = await ctx.peers.grpc(ZONES.flatMap((z) => HOSTS[z]), 0);
  const keyOf = (h: string): string => `${h}:${port}`;
  const zoneOfKey = new Map(ZONES.flatMap((z) => HOSTS[z].map((h) => [keyOf(h), z] as const)));
  const load = loadAverage();
  const results: Record<string, CaseResult> = {};
  for (const shape of ['balanced', 'unbalanced'] as const) {
    const published = { ...HOSTS, 'zone-a': shape === 'balanced' ? HOSTS['zone-a'] : HOSTS['zone-a'].slice(0, 1) };
    for (const z of ZONES) await ctx.peers.records(`${z}.bench`, published[z], 5);
    const live = ZONES.flatMap((z) => published[z].map(keyOf));
    const yaml = `gateway:\n  proxy:\n    distributor:\n      zones:\n${ZONES.map((z) => `        ${z}: dns://127.0.0.1:${dnsPort}/${z}.bench:${port}\n`).join('')}`;
    for (const aware of [false, true]) {
      const fractions = new Map<string, number>();
      const cross: number[] = [];
      const cpu: number[] = [];
      let errors = 0;
      for (const z of ZONES) {
        const gw: GatewayTarget = await gateway(ctx.dir, ctx.cpu.proxy, {
          name: `gateway-z-${shape}-${aware ? 'aware' : 'plain'}-${z}`,
          configYaml: yaml,
          extraFlags: aware ? [`-gateway.xds.locality-zone=${z}`] : [],
        });
        try {
          await waitReadyEndpoints(gw.url, live.length);
          const before: PeerCounts = await ctx.peers.counts();
          const m = await measure(ctx, { url: `${gw.url}/api/v1/push`, child: gw.child, seconds: ctx.seconds });
          const after: PeerCounts = await ctx.peers.counts();
          const got = live.map((k) => [k, (after[k]?.requests ?? 0) - (before[k]?.requests ?? 0)] as const);
          const total = got.reduce((s, [, n]) => s + n, 0);
          for (const [k, n] of got) fractions.set(k, (fractions.get(k) ?? 0) + n / total);
          cross.push(got.filter(([k]) => zoneOfKey.get(k) !== z).reduce((s, [, n]) => s + n, 0) / total);
          cpu.push(m.cpuUsPerReq ?? NaN);
          errors += m.errors + m.non2xx;
          ctx.log(`z ${shape} ${aware ? 'zone-aware' : 'no zone'} gateway in ${z}: ${got.map(([, n]) => n).join('/')} cross-zone ${fmt(cross.at(-1)! * 100)} %`);
        } finally {
          await gw.stop();
        }
      }
      const loads = [...fractions.values()];
      results[`${shape}-${aware ? 'aware' : 'plain'}`] = {
        crossZone: cross.reduce((a, b) => a + b, 0) / cross.length,
        maxMin: Math.max(...loads) / Math.min(...loads),
        cpuUsPerReq: median(cpu),
        errors,
      };
    }
  }
  await ctx.peers.stopPeers(ZONES.flatMap((z) => HOSTS[z].map(keyOf)));
  const row = (label: string, r: CaseResult): string[] => [label, `${fmt(r.crossZone * 100)} %`, fmt(r.maxMin, 3), fmt(r.cpuUsPerReq), String(r.errors)];
  const md = [
    `## z: zone-aware balancing, 3 zones, one gateway per zone (wrk 50 connections, ${ctx.seconds} s per gateway)`,
    '',
    `Load average at start: ${load}.`,
    '',
    table(['case', 'cross-zone share of pushes (bytes)', 'per-distributor load max/min', 'µs CPU/request (median gateway)', 'errors'], [
      row('balanced 3+3+3, no zone (round robin over all)', results['balanced-plain']!),
      row('balanced 3+3+3, zone-aware', results['balanced-aware']!),
      row('unbalanced 1+3+3, no zone', results['unbalanced-plain']!),
      row('unbalanced 1+3+3, zone-aware', results['unbalanced-aware']!),
    ]),
    '',
    `CPU per request, zone-aware / no zone (balanced): ${ratio(results['balanced-aware']!.cpuUsPerReq, results['balanced-plain']!.cpuUsPerReq)} (target within 5 %).`,
    '',
  ].join('\n');
  return { md, json: { load, results } };
}
