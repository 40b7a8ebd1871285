// `w`: 1 vs 2 worker processes (-server.workers), HTTP path and httpgrpc path. The gateways are not
// pinned (two workers need both CPUs); wrk, the backends and the peers stay on the load CPU, so a
// second worker shares that CPU with the load generator: req/s shows what the second core buys on
// this 2-core machine, CPU per request (primary + workers) what the extra processes cost.

import { cluster, waitReadyEndpoints } from '../lib/cluster.js';
import { measure, type BenchContext, type Measurement } from '../lib/context.js';
import { fmt, median, table } from '../lib/report.js';
import { distributorConfig, gateway, nginxBackend, type Target } from '../lib/targets.js';

const PATH = '/api/v1/push';

export async function workers(ctx: BenchContext): Promise<{ md: string; json: Record<string, unknown> }> {
  const started: Target[] = [];
  try {
    const backend = await nginxBackend(ctx.dir, ctx.cpu.load);
    started.push(backend);
    const c = await cluster(ctx);
    const rows: Array<{ label: string; path: string; n: number; target: Target }> = [];
    for (const [path, url] of [['http://', backend.url], ['dns:// httpgrpc', c.url]] as const) {
      for (const n of [1, 2]) {
        const t = await gateway(ctx.dir, undefined, { name: `gateway-w${n}-${path.startsWith('http') ? 'http' : 'grpc'}`, configYaml: distributorConfig(url), extraFlags: [`-server.workers=${n}`] });
        started.push(t);
        if (path !== 'http://') await waitReadyEndpoints(t.url, 3);
        rows.push({ label: `${path}, ${n} worker${n > 1 ? 's' : ''}`, path, n, target: t });
      }
    }
    for (const r of rows) await measure(ctx, { url: r.target.url + PATH, child: r.target.child, seconds: ctx.warmupSeconds });
    const results = new Map(rows.map((r) => [r, [] as Measurement[]]));
    for (let round = 1; round <= ctx.rounds; round++) {
      for (const r of rows) {
        const m = await measure(ctx, { url: r.target.url + PATH, child: r.target.child, seconds: ctx.seconds });
        ctx.log(`workers round ${round} ${r.label}: ${fmt(m.rps, 0)} req/s cpu ${fmt(m.cpuUsPerReq)} µs/req errors ${m.errors}`);
        results.get(r)!.push(m);
      }
    }
    // Per-round ratios against the 1-worker row of the same path (rows of a round run back to back).
    const vsOne = (r: (typeof rows)[number], f: (m: Measurement) => number): string => {
      const one = rows.find((x) => x.path === r.path && x.n === 1)!;
      const a = results.get(r)!;
      const b = results.get(one)!;
      return `${median(a.map((m, i) => f(m) / f(b[i]!))).toFixed(2)}×`;
    };
    const md = [
      '### w. Worker processes: 1 vs 2 (-server.workers)',
      '',
      table(
        ['gateway', 'req/s', '× 1 worker', 'gateway CPU µs/req (all processes)', '× 1 worker', 'p99 ms', 'errors'],
        rows.map((r) => {
          const ms = results.get(r)!;
          return [
            r.label,
            fmt(median(ms.map((m) => m.rps)), 0),
            vsOne(r, (m) => m.rps),
            fmt(median(ms.map((m) => m.cpuUsPerReq!))),
            vsOne(r, (m) => m.cpuUsPerReq!),
            fmt(median(ms.map((m) => m.p99Ms)), 2),
            String(ms.reduce((a, m) => a + m.errors, 0)),
          ];
        }),
      ),
      '',
      `Gateways unpinned (both CPUs); wrk (1 thread, 50 connections), nginx backend and the distributors pinned to CPU ${ctx.cpu.load ?? '(none)'}.`,
      '',
    ].join('\n');
    return { md, json: Object.fromEntries(rows.map((r) => [r.label, results.get(r)])) };
  } finally {
    for (const t of started.reverse()) await t.stop().catch(() => undefined);
  }
}
