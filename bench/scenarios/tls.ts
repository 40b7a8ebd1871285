// Scenario "tls": what HTTPS on the front door costs. The gateway over plain HTTP and over HTTPS
// (-server.http-tls-*), and nginx doing the same TLS termination next to its plain HTTP, all on the
// proxy CPU, push the same remote-write POSTs to one nginx backend over 25 keep-alive connections each
// (wrk: handshakes amortised, as Prometheus' remote write keeps its connections). Each pair (plain,
// TLS) is loaded at once, so outside load on this shared machine hits both sides of a ratio alike;
// the ratio is the median of per-round CPU ratios.

import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { measure, type BenchContext, type Measurement } from '../lib/context.js';
import { fmt, median, table } from '../lib/report.js';
import { BENCH_DIST } from '../lib/paths.js';
import { freePort, httpGet, start } from '../lib/proc.js';
import { distributorConfig, gateway, nginxBackend, nginxProxy, type ServingCert, type Target } from '../lib/targets.js';

const PATH = '/api/v1/push';

/** bench/alpn-server.ts: a trivial handler behind ALPN http/1.1 only (h1) or h2 + http/1.1 (h2). */
async function alpnServer(ctx: BenchContext, mode: 'h1' | 'h2', cert: ServingCert): Promise<Target> {
  const port = await freePort();
  const name = `node-tls-${mode}`;
  const child = start(name, process.execPath, [join(BENCH_DIST, 'alpn-server.js'), String(port), mode, cert.certPath, cert.keyPath], { cpu: ctx.cpu.proxy, logFile: join(ctx.dir, `${name}.log`) });
  const url = `https://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    if ((await httpGet(`${url}/`, 500)) !== undefined) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return { name, url, child, stop: () => child.stop() };
}

/** A self-signed RSA 2048 certificate for 127.0.0.1 (what cert-manager issues by default: RSA 2048). */
function servingCert(dir: string): ServingCert {
  const certPath = join(dir, 'tls-serving.pem');
  const keyPath = join(dir, 'tls-serving.key');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyPath, '-out', certPath, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'pipe' });
  return { certPath, keyPath };
}

export async function tls(ctx: BenchContext): Promise<{ md: string; json: Record<string, unknown> }> {
  const started: Target[] = [];
  try {
    const backend = await nginxBackend(ctx.dir, ctx.cpu.load);
    started.push(backend);
    const cert = servingCert(ctx.dir);
    const upstream = backend.url.replace('http://', '');
    const gwHttp = await gateway(ctx.dir, ctx.cpu.proxy, { name: 'gateway-http', configYaml: distributorConfig(backend.url) });
    started.push(gwHttp);
    const gwHttps = await gateway(ctx.dir, ctx.cpu.proxy, { name: 'gateway-https', configYaml: distributorConfig(backend.url), tls: cert });
    started.push(gwHttps);
    const ngHttp = await nginxProxy(ctx.dir, ctx.cpu.proxy, upstream);
    started.push(ngHttp);
    const ngHttps = await nginxProxy(ctx.dir, ctx.cpu.proxy, upstream, cert);
    started.push(ngHttps);
    const h1 = await alpnServer(ctx, 'h1', cert);
    started.push(h1);
    const h2 = await alpnServer(ctx, 'h2', cert);
    started.push(h2);
    const pairs = [
      { name: 'gateway', plain: gwHttp, tls: gwHttps },
      { name: 'nginx', plain: ngHttp, tls: ngHttps },
      // Not plain vs TLS: HTTP/1.1 clients on a server offering http/1.1 only vs one offering h2 too.
      { name: 'alpn', plain: h1, tls: h2 },
    ];
    for (const t of [gwHttp, gwHttps, ngHttp, ngHttps, h1, h2]) {
      ctx.log(`warm-up ${t.name} (${t.url}) ${ctx.warmupSeconds}s`);
      await measure(ctx, { url: t.url + PATH, child: t.child, seconds: ctx.warmupSeconds, connections: 25 });
    }
    const results = new Map<string, Measurement[]>([gwHttp, gwHttps, ngHttp, ngHttps, h1, h2].map((t) => [t.name, []]));
    const ratios = new Map<string, number[]>(pairs.map((p) => [p.name, []]));
    for (let round = 1; round <= ctx.rounds; round++) {
      // Alternate which pair goes first: the machine's background load drifts.
      for (const p of round % 2 === 1 ? pairs : [...pairs].reverse()) {
        const [plain, secure] = await Promise.all(
          [p.plain, p.tls].map((t) => measure(ctx, { url: t.url + PATH, child: t.child, others: p.name === 'alpn' ? [] : [backend.child!], seconds: ctx.seconds, connections: 25 })),
        );
        for (const [t, m] of [[p.plain, plain!], [p.tls, secure!]] as const) {
          ctx.log(`round ${round} ${t.name}: ${fmt(m.rps, 0)} req/s p99 ${fmt(m.p99Ms, 2)} ms cpu ${fmt(m.cpuUsPerReq)} µs/req errors ${m.errors}`);
          results.get(t.name)!.push(m);
        }
        ratios.get(p.name)!.push(secure!.cpuUsPerReq! / plain!.cpuUsPerReq!);
      }
    }
    const row = (label: string, t: Target, ratio: string): string[] => {
      const ms = results.get(t.name)!;
      return [
        label,
        fmt(median(ms.map((m) => m.rps)), 0),
        fmt(median(ms.map((m) => m.p50Ms)), 2),
        fmt(median(ms.map((m) => m.p99Ms)), 2),
        fmt(median(ms.map((m) => m.cpuUsPerReq!))),
        ratio,
        String(ms.reduce((a, m) => a + m.errors, 0)),
      ];
    };
    const pairTable = (what: string, ratioHeader: string, rows: ReadonlyArray<readonly [string, Target, string]>): string =>
      table([what, 'req/s', 'p50 ms', 'p99 ms', 'CPU µs/req', ratioHeader, 'errors'], rows.map(([label, t, ratio]) => row(label, t, ratio)));
    const r = (name: string): string => `${median(ratios.get(name)!).toFixed(3)}× (rounds: ${ratios.get(name)!.map((x) => x.toFixed(3)).join(', ')})`;
    const gwTlsCpu = median(results.get('gateway-https')!.map((m) => m.cpuUsPerReq!));
    const ngTlsCpu = median(results.get('nginx-tls')!.map((m) => m.cpuUsPerReq!));
    const md = [
      '### tls. HTTPS front door vs plain HTTP (8 KiB snappy POSTs, 25 keep-alive connections each, plain and TLS loaded at once)',
      '',
      pairTable('proxy', 'HTTPS × HTTP (per round)', [
        ['metrics-gateway, plain HTTP', gwHttp, '1.00×'],
        ['metrics-gateway, HTTPS (-server.http-tls-*)', gwHttps, r('gateway')],
        ['nginx, plain HTTP', ngHttp, '1.00×'],
        ['nginx, HTTPS (ssl on the listener)', ngHttps, r('nginx')],
      ]),
      '',
      'Offering h2, HTTP/1.1 clients (wrk), a handler that reads the body and answers 200, HTTPS both:',
      '',
      pairTable('server', '× http/1.1 only (per round)', [
        ['core/tls-termination.ts + node:http, ALPN http/1.1 (what the gateway runs)', h1, '1.00×'],
        ['node:http2 createSecureServer, allowHTTP1, ALPN h2 + http/1.1', h2, r('alpn')],
      ]),
      '',
      `HTTPS CPU per request, gateway vs nginx: ${(gwTlsCpu / ngTlsCpu).toFixed(2)}×; what TLS adds per request: gateway ${fmt(gwTlsCpu - median(results.get('gateway-http')!.map((m) => m.cpuUsPerReq!)))} µs, nginx ${fmt(ngTlsCpu - median(results.get('nginx')!.map((m) => m.cpuUsPerReq!)))} µs.`,
      '',
    ];
    return { md: md.join('\n'), json: { rounds: Object.fromEntries(results), cpuRatioPerRound: Object.fromEntries(ratios) } };
  } finally {
    for (const t of started.reverse()) await t.stop().catch(() => undefined);
  }
}
