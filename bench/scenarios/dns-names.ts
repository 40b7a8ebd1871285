// Scenario dns: a dns:// backend whose name has 1,000, 4,000 or 5,000 A records (5,000 do not fit one
// 64 KiB DNS message), answered by the in-process DNS server as BIND does (TC over UDP, TCP fallback,
// records rotated on every answer). One control plane (the built binary, lookup period 2 s) with one raw
// ADS client. Over a quiet window: lookups made, EDS pushes (should be none: nothing changed), the
// control plane's CPU; then one real change (a record added): pushes it caused.
// BENCH_BASE_CLI=<another build's dist/app/cli.js> runs every case against that build too, side by side.
// Environment: BENCH_DNS_RECORDS (default 1000,4000,5000), BENCH_DNS_WINDOW_S (default 20).

import { DnsServer } from '../../examples/local/dns-server.js';
import type { BenchContext } from '../lib/context.js';
import { controlPlane, fleetProcess, resourceNames, type FleetProcess } from '../lib/control-plane.js';
import { GATEWAY_CLI } from '../lib/paths.js';
import { cpuMicros, waitFor } from '../lib/proc.js';
import { fmt, ratio, sleep, table } from '../lib/report.js';

const PERIOD_S = 2;

interface DnsRun {
  readonly build: string;
  readonly records: number;
  readonly windowS: number;
  readonly lookups: number;
  readonly edsPushesQuiet: number;
  readonly cpuMsQuiet: number;
  readonly edsPushesAfterChange: number;
  readonly answerMode: string;
}

const records = (n: number): Array<{ type: 'A'; address: string; ttl: number }> =>
  Array.from({ length: n }, (_, i) => ({ type: 'A', address: `10.2.${i >> 8}.${i & 255}`, ttl: 30 }));

async function oneRun(ctx: BenchContext, build: string, cli: string, n: number, windowS: number): Promise<DnsRun> {
  const dns = await DnsServer.start({ host: '127.0.0.1', port: 0, rotate: true });
  dns.setRecords('big.bench', records(n));
  const yaml = `# written by the metrics-gateway bench (dns)\ngateway:\n  proxy:\n    distributor: { url: "dns://${dns.authority}/big.bench:9095" }\n`;
  const cp = await controlPlane(ctx.dir, ctx.cpu.proxy, `control-plane-dns-${n}-${build}`, yaml, [`-control-plane.dns.lookup-period=${PERIOD_S}s`], cli);
  let client: FleetProcess | undefined;
  try {
    await waitFor('the first DNS answer', 60_000, async () => ((await resourceNames(cp, 'ClusterLoadAssignment')).length > 0 ? true : undefined));
    const [eds, rds] = [await resourceNames(cp, 'ClusterLoadAssignment'), await resourceNames(cp, 'RouteConfiguration')];
    const c = fleetProcess(ctx.cpu.load, { xdsAddress: cp.xdsAddress, count: 1, protocol: 'sotw', channels: 1, prefix: `bench-dns-${build}`, eds, rds });
    client = c;
    await waitFor('the client to sync', 60_000, () => (c.latest.synced >= 1 ? true : undefined));
    await sleep(PERIOD_S * 1000);
    const edsPushes = (): Promise<number> => cp.metric('control_plane_xds_responses_total', 'type="eds"');
    const lookups = (): Promise<number> => cp.metric('control_plane_dns_lookups_total');
    const [eds0, lookups0, cpu0] = [await edsPushes(), await lookups(), cpuMicros(cp.child.pid)];
    await sleep(windowS * 1000);
    const [eds1, lookups1, cpu1] = [await edsPushes(), await lookups(), cpuMicros(cp.child.pid)];
    dns.setRecords('big.bench', records(n + 1));
    await sleep(3 * PERIOD_S * 1000);
    const eds2 = await edsPushes();
    const status = await cp.json<{ dns: Array<{ answerMode?: string }> }>('/control-plane/api/v1/status');
    return {
      build,
      records: n,
      windowS,
      lookups: lookups1 - lookups0,
      edsPushesQuiet: eds1 - eds0,
      cpuMsQuiet: (cpu1 - cpu0) / 1000,
      edsPushesAfterChange: eds2 - eds1,
      answerMode: status.dns[0]?.answerMode ?? '(not reported)',
    };
  } finally {
    await client?.disconnect();
    await cp.stop();
    await dns.close();
  }
}

export async function dnsNames(ctx: BenchContext): Promise<{ md: string; json: Record<string, unknown> }> {
  const sizes = (process.env['BENCH_DNS_RECORDS'] ?? '1000,4000,5000').split(',').map(Number);
  const windowS = Number(process.env['BENCH_DNS_WINDOW_S'] ?? 20);
  const base = process.env['BENCH_BASE_CLI'];
  const runs: DnsRun[] = [];
  for (const n of sizes) {
    ctx.log(`dns: ${n} records`);
    runs.push(await oneRun(ctx, 'this', GATEWAY_CLI, n, windowS));
    if (base) runs.push(await oneRun(ctx, 'base', base, n, windowS));
  }
  const mine = (n: number): DnsRun | undefined => runs.find((r) => r.records === n && r.build === 'this');
  const rows = runs.map((r) => [
    String(r.records),
    r.build,
    `${r.lookups} (${Math.floor(r.windowS / PERIOD_S)} periods)`,
    String(r.edsPushesQuiet),
    `${fmt(r.cpuMsQuiet, 0)} ms (${fmt((100 * r.cpuMsQuiet) / (r.windowS * 1000), 2)} % of a core)`,
    r.build === 'base' ? ratio(r.cpuMsQuiet, mine(r.records)?.cpuMsQuiet) : '1.00×',
    String(r.edsPushesAfterChange),
    r.answerMode,
  ]);
  const md = [
    `### dns. A name with many A records (lookup period ${PERIOD_S} s, one ADS client; quiet window ${windowS} s, then one record added)`,
    '',
    table(['records', 'build', 'lookups in the window', 'EDS pushes, nothing changed', 'control-plane CPU in the window', 'CPU vs this build', 'EDS pushes after one real change', 'answerMode'], rows),
    '',
    '5,000 records do not fit one 64 KiB message: every answer is a different 4,094-record subset. `base` is BENCH_BASE_CLI when set.',
    '',
  ].join('\n');
  return { md, json: { runs } };
}
