// Scenarios a (HTTP path: metrics-gateway vs nginx vs HAProxy vs node:http+undici vs direct) and
// b (the gateway's httpgrpc path against its HTTP path). Every proxy runs on the proxy CPU at once
// (idle ones cost nothing); rounds are interleaved so a burst of outside load hits all of them alike,
// and the median round is reported.

import { cluster, waitReadyEndpoints } from '../lib/cluster.js';
import { measure, type BenchContext, type Measurement } from '../lib/context.js';
import { rssBytes, type Child } from '../lib/proc.js';
import { fmt, median, mib, sleep, table } from '../lib/report.js';
import { baselineProxy, distributorConfig, gateway, goGateway, haproxyHttp, nginxBackend, nginxProxy, type Target } from '../lib/targets.js';

const PATH = '/api/v1/push';
const LABELS: Record<string, string> = { nginx: 'nginx (1 worker)', haproxy: 'HAProxy (1 thread)', 'node-undici': 'node:http + undici (baseline)' };

export interface ThroughputResult {
  readonly md: string;
  readonly json: Record<string, unknown>;
  /** The gateway's HTTP-path median, for the reload scenario to compare against. */
  readonly gatewayHttp: Summary | undefined;
}

export interface Summary {
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly cpuUsPerReq: number | undefined;
  readonly otherCpuUsPerReq: Record<string, number>;
  readonly errors: number;
  readonly requests: number;
}

function summarize(ms: readonly Measurement[]): Summary {
  const others: Record<string, number> = {};
  for (const k of Object.keys(ms[0]?.otherCpuUsPerReq ?? {})) others[k] = median(ms.map((m) => m.otherCpuUsPerReq[k]!));
  return {
    rps: median(ms.map((m) => m.rps)),
    p50Ms: median(ms.map((m) => m.p50Ms)),
    p99Ms: median(ms.map((m) => m.p99Ms)),
    cpuUsPerReq: ms[0]?.cpuUsPerReq === undefined ? undefined : median(ms.map((m) => m.cpuUsPerReq!)),
    otherCpuUsPerReq: others,
    errors: ms.reduce((a, m) => a + m.errors, 0),
    requests: ms.reduce((a, m) => a + m.requests, 0),
  };
}

/**
 * Extra gateway rows: the same build with a larger V8 young generation (fewer scavenges, fewer
 * request objects promoted), and, with BENCH_COMPARE_CLI=<other checkout>/dist/app/cli.js, another build
 * (before/after numbers for a change, measured in the same rounds).
 */
function variants(): Array<{ name: string; label: string; opts: { nodeFlags?: string[]; cli?: string } }> {
  const out: Array<{ name: string; label: string; opts: { nodeFlags?: string[]; cli?: string } }> = [
    { name: 'semi32', label: 'node --max-semi-space-size=32', opts: { nodeFlags: ['--max-semi-space-size=32'] } },
  ];
  const other = process.env['BENCH_COMPARE_CLI'];
  if (other) out.push({ name: 'compare', label: `build at ${other}`, opts: { cli: other } });
  return out;
}

interface Row {
  readonly target: Target;
  /** Processes whose CPU is shown next to the proxy's (the backend, the peers). */
  readonly others: readonly Child[];
  readonly label: string;
}

export async function throughput(ctx: BenchContext, which: { a: boolean; b: boolean }): Promise<ThroughputResult> {
  const started: Target[] = [];
  try {
    const backend = await nginxBackend(ctx.dir, ctx.cpu.load);
    started.push(backend);
    const upstream = backend.url.replace('http://', '');
    const rows: Row[] = [];
    let idleRss: number | undefined;
    if (which.a) {
      const gw = await gateway(ctx.dir, ctx.cpu.proxy, { name: 'gateway-http', configYaml: distributorConfig(backend.url) });
      started.push(gw);
      await sleep(2000);
      idleRss = rssBytes(gw.child!.pid);
      const others = [backend.child!];
      rows.push({ target: { ...backend, child: undefined }, others, label: 'direct to backend (no proxy)' });
      for (const t of [await nginxProxy(ctx.dir, ctx.cpu.proxy, upstream), await haproxyHttp(ctx.dir, ctx.cpu.proxy, upstream), await baselineProxy(ctx.dir, ctx.cpu.proxy, backend.url)]) {
        started.push(t);
        rows.push({ target: t, others, label: LABELS[t.name] ?? t.name });
      }
      rows.push({ target: gw, others, label: 'metrics-gateway (http://)' });
      for (const v of variants()) {
        const t = await gateway(ctx.dir, ctx.cpu.proxy, { name: `gateway-http-${v.name}`, configYaml: distributorConfig(backend.url), ...v.opts });
        started.push(t);
        rows.push({ target: t, others, label: `metrics-gateway (http://), ${v.label}` });
      }
    }
    if (which.b) {
      const c = await cluster(ctx);
      const gw = await gateway(ctx.dir, ctx.cpu.proxy, { name: 'gateway-httpgrpc', configYaml: distributorConfig(c.url) });
      started.push(gw);
      await waitReadyEndpoints(gw.url, 3);
      rows.push({ target: gw, others: [ctx.peers.child], label: 'metrics-gateway (dns:// httpgrpc, 3 distributors), socket client' });
      // Issue 21: the node:http2 client (kept one release) and GEM's Go gateway, in the same rounds.
      const old = await gateway(ctx.dir, ctx.cpu.proxy, { name: 'gateway-httpgrpc-node-http2', configYaml: distributorConfig(c.url), extraFlags: ['-gateway.httpgrpc-client=node-http2'] });
      started.push(old);
      await waitReadyEndpoints(old.url, 3);
      rows.push({ target: old, others: [ctx.peers.child], label: 'metrics-gateway (dns:// httpgrpc), node:http2 client' });
      const go = await goGateway(ctx.dir, ctx.cpu.proxy, c.url);
      started.push(go);
      rows.push({ target: go, others: [ctx.peers.child], label: 'Go gateway (net/http + grpc-go dns:/// round_robin)' });
      for (const v of variants()) {
        const t = await gateway(ctx.dir, ctx.cpu.proxy, { name: `gateway-httpgrpc-${v.name}`, configYaml: distributorConfig(c.url), ...v.opts });
        started.push(t);
        await waitReadyEndpoints(t.url, 3);
        rows.push({ target: t, others: [ctx.peers.child], label: `metrics-gateway (dns:// httpgrpc), ${v.label}` });
      }
    }

    for (const r of rows) {
      ctx.log(`warm-up ${r.label} ${ctx.warmupSeconds}s`);
      await measure(ctx, { url: r.target.url + PATH, child: r.target.child, seconds: ctx.warmupSeconds });
    }
    const results = new Map<Row, Measurement[]>(rows.map((r) => [r, []]));
    for (let round = 1; round <= ctx.rounds; round++) {
      for (const r of rows) {
        const m = await measure(ctx, { url: r.target.url + PATH, child: r.target.child, others: r.others, seconds: ctx.seconds });
        ctx.log(`round ${round} ${r.label}: ${fmt(m.rps, 0)} req/s p99 ${fmt(m.p99Ms, 2)} ms cpu ${fmt(m.cpuUsPerReq)} µs/req errors ${m.errors}`);
        results.get(r)!.push(m);
      }
    }
    const sum = new Map([...results].map(([r, ms]) => [r, summarize(ms)]));
    const find = (name: string): Summary | undefined => [...sum].find(([r]) => r.target.name === name)?.[1];
    const gwHttp = find('gateway-http');
    // Ratios are medians of per-round ratios: rows of one round run back to back, so load from outside
    // the bench (this machine is shared) shifts both sides of a ratio alike.
    const roundRatio = (r: Row, refName: string): string => {
      const ref = [...results].find(([x]) => x.target.name === refName)?.[1];
      const mine = results.get(r)!;
      if (!ref || mine[0]?.cpuUsPerReq === undefined) return 'n/a';
      return `${median(mine.map((m, i) => m.cpuUsPerReq! / ref[i]!.cpuUsPerReq!)).toFixed(2)}×`;
    };
    const isGrpc = (r: Row): boolean => r.target.name.startsWith('gateway-httpgrpc') || r.target.name === 'go-gateway';

    const md: string[] = [];
    const json: Record<string, unknown> = {
      idleRssBytes: idleRss,
      medians: Object.fromEntries([...sum].map(([r, s]) => [r.target.name, s])),
      rounds: Object.fromEntries([...results].map(([r, ms]) => [r.target.name, ms])),
    };
    if (which.a) {
      md.push('### a. HTTP path (8 KiB snappy POSTs, 50 keep-alive connections)', '');
      md.push(
        table(
          ['target', 'req/s', 'p50 ms', 'p99 ms', 'proxy CPU µs/req', '× nginx (per round)', 'backend CPU µs/req', 'errors'],
          [...sum]
            .filter(([r]) => !isGrpc(r))
            .map(([r, s]) => [
              r.label,
              fmt(s.rps, 0),
              fmt(s.p50Ms, 2),
              fmt(s.p99Ms, 2),
              fmt(s.cpuUsPerReq),
              r.target.child ? roundRatio(r, 'nginx') : '',
              fmt(Object.values(s.otherCpuUsPerReq)[0]),
              String(s.errors),
            ]),
        ),
        '',
        `Gateway RSS idle (2 s after /ready): ${idleRss ? mib(idleRss) : 'n/a'}. Backend: nginx \`return 200\` (1 worker).`,
        '',
      );
    }
    const grpcRows = [...sum].filter(([r]) => isGrpc(r));
    if (which.b && grpcRows.length > 0) {
      md.push('### b. httpgrpc path vs HTTP path (metrics-gateway)', '');
      const gwRows = [...sum].filter(([r]) => r.target.name.startsWith('gateway-') || r.target.name === 'go-gateway');
      md.push(
        table(
          ['gateway', 'req/s', 'p50 ms', 'p99 ms', 'gateway CPU µs/req', '× HTTP path (per round)', '× Go gateway (per round)', 'distributors CPU µs/req', 'errors'],
          gwRows.map(([r, s]) => [
            r.label,
            fmt(s.rps, 0),
            fmt(s.p50Ms, 2),
            fmt(s.p99Ms, 2),
            fmt(s.cpuUsPerReq),
            roundRatio(r, 'gateway-http'),
            isGrpc(r) ? roundRatio(r, 'go-gateway') : '',
            isGrpc(r) ? fmt(s.otherCpuUsPerReq['peers']) : '',
            String(s.errors),
          ]),
        ),
        '',
        'Distributors: 3 grpc-js httpgrpc servers (examples/local/httpgrpc-server.ts, answering 200 at once) in one peers process on the load CPU.',
        '',
      );
    }
    return { md: md.join('\n'), json, gatewayHttp: gwHttp };
  } finally {
    for (const t of started.reverse()) await t.stop().catch(() => undefined);
  }
}
