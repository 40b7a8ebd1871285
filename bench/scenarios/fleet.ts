// Scenario fleet: one control plane (-target=control-plane, the built binary) and 1,000 / 5,000 raw ADS
// clients in other processes, SotW and delta. Each client stream has its own node id, subscribes to the
// four types and ACKs at once. Measured at the control plane:
// - every stream ACKs the initial snapshot (its four types), and how long that took;
// - config edits: time from the file written to 50 % / 99 % / 100 % of the expected ACKs, read from
//   control_plane_xds_acks_total every 50 ms (so the resolution is ~50 ms), and the control plane's CPU
//   per edit, per stream;
// - RSS before connecting, while connected, and BENCH_FLEET_AFTER_S (default 60) s after all disconnect.
// Environment: BENCH_FLEET_SIZES (default 1000,5000), BENCH_FLEET_PROTOCOLS (default sotw,delta),
// BENCH_FLEET_EDITS (default 5), BENCH_FLEET_CLI (another build's dist/app/cli.js, to compare).

import { writeFileSync } from 'node:fs';
import { DnsServer } from '../../examples/local/dns-server.js';
import type { BenchContext } from '../lib/context.js';
import { controlPlane, fleetProcess, resourceNames, type ControlPlaneTarget, type FleetProcess } from '../lib/control-plane.js';
import { GATEWAY_CLI } from '../lib/paths.js';
import { cpuMicros, rssBytes, waitFor } from '../lib/proc.js';
import { fmt, median, mib, sleep, table } from '../lib/report.js';

/** Streams per client process and per channel (TCP connection). */
const STREAMS_PER_PROCESS = 1250;
const STREAMS_PER_CHANNEL = 100;
const DISTRIBUTOR_RECORDS = 1000;

export interface FleetRun {
  /** `this` checkout, or `base` (BENCH_BASE_CLI). */
  readonly build: string;
  readonly size: number;
  readonly protocol: 'sotw' | 'delta';
  readonly processes: number;
  readonly channels: number;
  readonly initialSyncMs: number;
  readonly failedStreams: number;
  readonly nacks: number;
  readonly edits: ReadonlyArray<{ p50Ms: number; p99Ms: number; maxMs: number; cpuMs: number; expectedAcks: number }>;
  readonly rssBefore: number;
  readonly rssConnected: number;
  readonly rssAfter: number;
}

function envList(name: string, dflt: string): string[] {
  return (process.env[name] ?? dflt).split(',').map((s) => s.trim()).filter((s) => s !== '');
}

const yaml = (dnsAuthority: string, edit: number): string =>
  [
    '# written by the metrics-gateway bench (fleet)',
    'gateway:',
    '  proxy:',
    `    default: { url: "http://127.0.0.1:${9000 + edit}" }`,
    '    query_frontend: { url: "http://127.0.0.1:9100" }',
    `    distributor: { url: "dns://${dnsAuthority}/distributor.bench:9095" }`,
    '',
  ].join('\n');

async function ackTotal(cp: ControlPlaneTarget): Promise<number> {
  return cp.metric('control_plane_xds_acks_total');
}

async function oneRun(ctx: BenchContext, dns: DnsServer, build: string, cli: string, size: number, protocol: 'sotw' | 'delta', edits: number): Promise<FleetRun> {
  const cp = await controlPlane(ctx.dir, ctx.cpu.proxy, `control-plane-fleet-${size}-${protocol}-${build}`, yaml(dns.authority, 0), [], cli);
  const fleet: FleetProcess[] = [];
  try {
    const [eds, rds] = [await resourceNames(cp, 'ClusterLoadAssignment'), await resourceNames(cp, 'RouteConfiguration')];
    await sleep(2000);
    const rssBefore = rssBytes(cp.child.pid);

    const processes = Math.ceil(size / STREAMS_PER_PROCESS);
    let channels = 0;
    const started = Date.now();
    for (let p = 0; p < processes; p++) {
      const count = Math.min(STREAMS_PER_PROCESS, size - p * STREAMS_PER_PROCESS);
      const ch = Math.ceil(count / STREAMS_PER_CHANNEL);
      channels += ch;
      fleet.push(
        fleetProcess(ctx.cpu.load, {
          xdsAddress: cp.xdsAddress,
          count,
          protocol,
          channels: ch,
          prefix: `bench-${protocol}-${p}`,
          eds,
          rds,
        }),
      );
    }
    const synced = (): number => fleet.reduce((n, f) => n + f.latest.synced, 0);
    await waitFor(`${size} ${protocol} streams to ACK the initial snapshot`, 300_000, () => (synced() >= size ? true : undefined));
    const initialSyncMs = Date.now() - started;
    await sleep(1000);
    const rssConnected = rssBytes(cp.child.pid);

    const results: FleetRun['edits'][number][] = [];
    for (let e = 1; e <= edits; e++) {
      const versions = async (): Promise<Record<string, string>> =>
        (await cp.json<{ snapshot: { versions: Record<string, string> } }>('/control-plane/api/v1/status')).snapshot.versions;
      const before = await versions();
      const acks0 = await ackTotal(cp);
      const cpu0 = cpuMicros(cp.child.pid);
      writeFileSync(cp.configFile, yaml(dns.authority, e));
      const t0 = Date.now();
      const after = await waitFor('the edit to be published', 60_000, async () => {
        const v = await versions();
        return JSON.stringify(v) !== JSON.stringify(before) ? v : undefined;
      });
      const changed = Object.keys(after).filter((k) => after[k] !== before[k]).length;
      const expectedAcks = changed * size;
      const marks: Array<[number, number]> = [];
      await waitFor(`${expectedAcks} ACKs of edit ${e}`, 120_000, async () => {
        const n = (await ackTotal(cp)) - acks0;
        marks.push([Date.now() - t0, n]);
        return n >= expectedAcks ? true : undefined;
      });
      const cpuMs = (cpuMicros(cp.child.pid) - cpu0) / 1000;
      const at = (fraction: number): number => marks.find(([, n]) => n >= fraction * expectedAcks)?.[0] ?? NaN;
      results.push({ p50Ms: at(0.5), p99Ms: at(0.99), maxMs: at(1), cpuMs, expectedAcks });
      await sleep(500);
    }
    const nacks = await cp.metric('control_plane_xds_nacks_total');
    const failedStreams = fleet.reduce((n, f) => n + f.latest.failed, 0);

    for (const f of fleet) await f.disconnect();
    fleet.length = 0;
    await sleep(Number(process.env['BENCH_FLEET_AFTER_S'] ?? 60) * 1000);
    const rssAfter = rssBytes(cp.child.pid);
    return { build, size, protocol, processes, channels, initialSyncMs, failedStreams, nacks, edits: results, rssBefore, rssConnected, rssAfter };
  } finally {
    for (const f of fleet) await f.child.stop(1000);
    await cp.stop();
  }
}

export async function fleetBench(ctx: BenchContext): Promise<{ md: string; json: Record<string, unknown> }> {
  const sizes = envList('BENCH_FLEET_SIZES', '1000,5000').map(Number);
  const protocols = envList('BENCH_FLEET_PROTOCOLS', 'sotw,delta') as Array<'sotw' | 'delta'>;
  const edits = Number(process.env['BENCH_FLEET_EDITS'] ?? 5);
  const dns = await DnsServer.start({ host: '127.0.0.1', port: 0 });
  const runs: FleetRun[] = [];
  try {
    dns.setRecords('distributor.bench', Array.from({ length: DISTRIBUTOR_RECORDS }, (_, i) => ({ type: 'A' as const, address: `10.1.${i >> 8}.${i & 255}`, ttl: 30 })));
    for (const size of sizes) {
      for (const protocol of protocols) {
        ctx.log(`fleet: ${size} ${protocol} streams`);
        runs.push(await oneRun(ctx, dns, 'this', GATEWAY_CLI, size, protocol, edits));
        const base = process.env['BENCH_BASE_CLI'];
        if (base) runs.push(await oneRun(ctx, dns, 'base', base, size, protocol, edits));
      }
    }
  } finally {
    await dns.close();
  }
  const rows = runs.map((r) => {
    const p99 = r.edits.map((e) => e.p99Ms);
    const cpuPerStreamUs = median(r.edits.map((e) => (e.cpuMs * 1000) / r.size));
    return [
      String(r.size),
      r.protocol,
      r.build,
      `${r.processes} / ${r.channels}`,
      `${fmt(r.initialSyncMs / 1000, 1)} s`,
      String(r.failedStreams),
      String(r.nacks),
      `${fmt(median(r.edits.map((e) => e.p50Ms)), 0)} / ${fmt(median(p99), 0)} / ${fmt(Math.max(...p99), 0)} / ${fmt(Math.max(...r.edits.map((e) => e.maxMs)), 0)}`,
      `${fmt(median(r.edits.map((e) => e.cpuMs)), 0)} ms (${fmt(cpuPerStreamUs, 0)} µs/stream)`,
      mib(r.rssBefore),
      mib(r.rssConnected),
      `${mib(r.rssAfter)} (${fmt((100 * r.rssAfter) / r.rssBefore - 100, 0)} %)`,
    ];
  });
  const md = [
    `### fleet. One control plane, raw ADS clients in other processes (${DISTRIBUTOR_RECORDS}-endpoint distributor; ${edits} config edits per run)`,
    '',
    table(
      [
        'streams',
        'protocol',
        'build',
        'client processes / channels',
        'all ACK initial snapshot after',
        'failed streams',
        'NACKs',
        'edit → ACKs p50 / p99 (median of edits) / worst p99 / last ACK, ms',
        'control-plane CPU per edit (median)',
        'RSS before connect',
        'RSS connected',
        `RSS ${process.env['BENCH_FLEET_AFTER_S'] ?? 60} s after disconnect`,
      ],
      rows,
    ),
    '',
    `Each client process holds up to ${STREAMS_PER_PROCESS} streams over channels of ${STREAMS_PER_CHANNEL} streams (one TCP connection each, grpc.use_local_subchannel_pool). ` +
      'Edit times are from the config file written to the ACK counter of the control plane reaching the share of expected ACKs (changed types × streams), polled every 50 ms; ' +
      'they include the config watcher debounce and the snapshot build.',
    '',
    ...marginal(runs),
  ].join('\n');
  return { md, json: { runs } };
}

/** Control-plane CPU an edit costs per additional stream: the slope between the smallest and largest fleet. */
function marginal(runs: readonly FleetRun[]): string[] {
  const out: string[] = [];
  for (const build of ['this', 'base']) {
    for (const protocol of ['sotw', 'delta'] as const) {
      const mine = runs.filter((r) => r.build === build && r.protocol === protocol).sort((a, b) => a.size - b.size);
      const [small, large] = [mine[0], mine[mine.length - 1]];
      if (!small || !large || small.size === large.size) continue;
      const cpu = (r: FleetRun): number => median(r.edits.map((e) => e.cpuMs));
      const us = ((cpu(large) - cpu(small)) * 1000) / (large.size - small.size);
      out.push(`- ${build}, ${protocol}: each stream beyond ${small.size} adds ${fmt(us, 0)} µs of control-plane CPU per edit (${small.size} → ${large.size} streams: ${fmt(cpu(small), 0)} → ${fmt(cpu(large), 0)} ms).`);
    }
  }
  return out.length > 0 ? [...out, ''] : [];
}
