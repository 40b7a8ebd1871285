// Scenario push (issue 22, "memory at 5,000"): one control plane and BENCH_PUSH_STREAMS (default 5,000)
// raw SotW ADS streams in 4 client processes, 50 streams per channel; then the distributor's DNS name
// grows from 100 to BENCH_PUSH_ENDPOINTS (default 4,000) addresses, so one big ClusterLoadAssignment is
// pushed to every stream. Measured at the control plane, every 50 ms:
// - push: from the snapshot published (its EDS version in /status) to 50 % / 99 % / 100 % of the streams'
//   EDS ACKs (control_plane_xds_acks_total{type="eds"});
// - RSS and Node heap (nodejs_heap_size_used_bytes, nodejs_external_memory_bytes): before the push, the
//   peak during it, and BENCH_PUSH_AFTER_S (default 60) s after every stream has gone;
// - then BENCH_PUSH_EDITS (default 3) config edits at that size: p99 of their ACKs.
// BENCH_BASE_CLI (another build's dist/app/cli.js) runs the same against it, side by side.

import { writeFileSync } from 'node:fs';
import { DnsServer } from '../../examples/local/dns-server.js';
import type { BenchContext } from '../lib/context.js';
import { controlPlane, fleetProcess, resourceNames, type ControlPlaneTarget, type FleetProcess } from '../lib/control-plane.js';
import { GATEWAY_CLI } from '../lib/paths.js';
import { loadAverage, rssBytes, waitFor } from '../lib/proc.js';
import { fmt, median, mib, ratio, sleep, table } from '../lib/report.js';

const PROCESSES = 4;
const STREAMS_PER_CHANNEL = 50;
const NAME = 'distributor.push';

interface PushRun {
  readonly build: string;
  readonly streams: number;
  readonly endpoints: number;
  readonly push: { p50Ms: number; p99Ms: number; maxMs: number };
  readonly editP99Ms: readonly number[];
  readonly rss: { connected: number; peak: number; after: number };
  readonly heap: { connected: number; peak: number; after: number; externalPeak: number };
  readonly failed: number;
  readonly load: string;
}

const yaml = (dns: string, edit: number): string =>
  [
    '# written by the metrics-gateway bench (push)',
    'gateway:',
    '  proxy:',
    `    default: { url: "http://127.0.0.1:${9000 + edit}" }`,
    `    distributor: { url: "dns://${dns}/${NAME}:9095" }`,
    '',
  ].join('\n');

function records(n: number): { type: 'A'; address: string; ttl: number }[] {
  return Array.from({ length: n }, (_, i) => ({ type: 'A' as const, address: `10.2.${i >> 8}.${i & 255}`, ttl: 1 }));
}

/** Samples of the ACK counter, RSS and heap every 50 ms while `until` is pending. */
async function sampled(cp: ControlPlaneTarget, pid: number, until: (acks: number) => Promise<boolean>): Promise<{ marks: [number, number][]; rssPeak: number; heapPeak: number; externalPeak: number }> {
  const t0 = Date.now();
  const marks: [number, number][] = [];
  let rssPeak = 0;
  let heapPeak = 0;
  let externalPeak = 0;
  for (;;) {
    rssPeak = Math.max(rssPeak, rssBytes(pid));
    marks.push([Date.now() - t0, await cp.metric('control_plane_xds_acks_total', 'type="eds"')]);
    heapPeak = Math.max(heapPeak, await cp.metric('nodejs_heap_size_used_bytes'));
    externalPeak = Math.max(externalPeak, await cp.metric('nodejs_external_memory_bytes'));
    if (await until(marks[marks.length - 1]![1])) return { marks, rssPeak, heapPeak, externalPeak };
    await sleep(50);
  }
}

async function oneRun(ctx: BenchContext, dns: DnsServer, build: string, cli: string, streams: number, endpoints: number): Promise<PushRun> {
  dns.setRecords(NAME, records(100));
  const cp = await controlPlane(ctx.dir, ctx.cpu.proxy, `control-plane-push-${build}`, yaml(dns.authority, 0), ['-control-plane.dns.lookup-period=1s'], cli);
  const fleet: FleetProcess[] = [];
  try {
    const [eds, rds] = [await resourceNames(cp, 'ClusterLoadAssignment'), await resourceNames(cp, 'RouteConfiguration')];
    for (let p = 0; p < PROCESSES; p++) {
      const count = Math.floor(streams / PROCESSES) + (p < streams % PROCESSES ? 1 : 0);
      fleet.push(fleetProcess(ctx.cpu.load, { xdsAddress: cp.xdsAddress, count, protocol: 'sotw', channels: Math.ceil(count / STREAMS_PER_CHANNEL), prefix: `push-${build}-${p}`, eds, rds }));
    }
    const synced = (): number => fleet.reduce((n, f) => n + f.latest.synced, 0);
    await waitFor(`${streams} streams to ACK the initial snapshot`, 600_000, () => (synced() >= streams ? true : undefined));
    await sleep(2000);
    const rssConnected = rssBytes(cp.child.pid);
    const heapConnected = await cp.metric('nodejs_heap_size_used_bytes');

    // The push: the name now answers `endpoints` addresses.
    const edsVersion = async (): Promise<string> =>
      (await cp.json<{ snapshot: { versions: Record<string, string> } }>('/control-plane/api/v1/status')).snapshot.versions['type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment'] ?? '';
    const before = await edsVersion();
    const acks0 = await cp.metric('control_plane_xds_acks_total', 'type="eds"');
    dns.setRecords(NAME, records(endpoints));
    await waitFor('the push to be published', 60_000, async () => ((await edsVersion()) !== before ? true : undefined));
    const s = await sampled(cp, cp.child.pid, async (acks) => acks - acks0 >= streams);
    const at = (f: number): number => s.marks.find(([, n]) => n - acks0 >= f * streams)?.[0] ?? NaN;

    const editP99Ms: number[] = [];
    for (let e = 1; e <= Number(process.env['BENCH_PUSH_EDITS'] ?? 3); e++) {
      const acksE = await cp.metric('control_plane_xds_acks_total', 'type="cds"');
      writeFileSync(cp.configFile, yaml(dns.authority, e));
      const t0 = Date.now();
      const marks: [number, number][] = [];
      await waitFor(`edit ${e} ACKed`, 120_000, async () => {
        const n = (await cp.metric('control_plane_xds_acks_total', 'type="cds"')) - acksE;
        marks.push([Date.now() - t0, n]);
        return n >= streams ? true : undefined;
      });
      editP99Ms.push(marks.find(([, n]) => n >= 0.99 * streams)?.[0] ?? NaN);
      await sleep(500);
    }
    const failed = fleet.reduce((n, f) => n + f.latest.failed, 0);
    for (const f of fleet) await f.disconnect();
    fleet.length = 0;
    await sleep(Number(process.env['BENCH_PUSH_AFTER_S'] ?? 60) * 1000);
    return {
      build,
      streams,
      endpoints,
      push: { p50Ms: at(0.5), p99Ms: at(0.99), maxMs: at(1) },
      editP99Ms,
      rss: { connected: rssConnected, peak: s.rssPeak, after: rssBytes(cp.child.pid) },
      heap: { connected: heapConnected, peak: s.heapPeak, after: await cp.metric('nodejs_heap_size_used_bytes'), externalPeak: s.externalPeak },
      failed,
      load: loadAverage(),
    };
  } finally {
    for (const f of fleet) await f.child.stop(1000);
    await cp.stop();
  }
}

export async function pushBench(ctx: BenchContext): Promise<{ md: string; json: Record<string, unknown> }> {
  const streams = Number(process.env['BENCH_PUSH_STREAMS'] ?? 5000);
  const endpoints = Number(process.env['BENCH_PUSH_ENDPOINTS'] ?? 4000);
  const dns = await DnsServer.start({ host: '127.0.0.1', port: 0 });
  const runs: PushRun[] = [];
  try {
    const base = process.env['BENCH_BASE_CLI'];
    ctx.log(`push: ${streams} streams, ${endpoints} endpoints (this build)`);
    runs.push(await oneRun(ctx, dns, 'this', GATEWAY_CLI, streams, endpoints));
    if (base) {
      ctx.log(`push: ${streams} streams, ${endpoints} endpoints (base build)`);
      runs.push(await oneRun(ctx, dns, 'base', base, streams, endpoints));
    }
  } finally {
    await dns.close();
  }
  const [ours, base] = runs;
  const rows = runs.map((r) => [
    r.build,
    `${fmt(r.push.p50Ms, 0)} / ${fmt(r.push.p99Ms, 0)} / ${fmt(r.push.maxMs, 0)}`,
    `${fmt(median(r.editP99Ms), 0)} (worst ${fmt(Math.max(...r.editP99Ms), 0)})`,
    mib(r.rss.connected),
    mib(r.rss.peak),
    `${mib(r.rss.after)} (${fmt((100 * r.rss.after) / r.rss.connected - 100, 0)} %)`,
    `${mib(r.heap.connected)} / ${mib(r.heap.peak)} / ${mib(r.heap.after)}; external peak ${mib(r.heap.externalPeak)}`,
    String(r.failed),
    r.load,
  ]);
  const md = [
    `### push. ${streams} SotW streams (${PROCESSES} processes, ${STREAMS_PER_CHANNEL} per channel), the distributor's name grows 100 → ${endpoints} addresses`,
    '',
    table(
      [
        'build',
        'push → EDS ACKs p50 / p99 / all, ms',
        'edit → ACKs p99, ms (median)',
        'RSS connected (before push)',
        'RSS peak during push',
        `RSS ${process.env['BENCH_PUSH_AFTER_S'] ?? 60} s after all disconnect`,
        'heap used: connected / peak / after',
        'failed streams',
        'load average after',
      ],
      rows,
    ),
    ...(ours && base
      ? ['', `Ratios (this / base): RSS peak ${ratio(ours.rss.peak, base.rss.peak)}, push p99 ${ratio(ours.push.p99Ms, base.push.p99Ms)}, RSS after ${ratio(ours.rss.after, base.rss.after)}.`]
      : []),
  ].join('\n');
  return { md, json: { runs } };
}
