// Scenario "auth": the cost of -auth.type=token. Two gateways on the proxy CPU, one in trust mode and
// one with token auth, push the same remote-write POSTs to one nginx backend; the token one gets HTTP
// basic auth on every request (one token, so after the first request every check is a cache hit: the
// KDF runs once per -auth.cache-ttl). Rounds interleave the two (alternating which goes first); the ratio is the median of per-round
// CPU ratios, so outside load on this shared machine shifts both sides alike.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mintSecret, scryptHash } from '../../core/auth.js';
import { measure, type BenchContext, type Measurement } from '../lib/context.js';
import { fmt, median, table } from '../lib/report.js';
import { distributorConfig, gateway, nginxBackend, type Target } from '../lib/targets.js';

const PATH = '/api/v1/push';

export async function auth(ctx: BenchContext): Promise<{ md: string; json: Record<string, unknown> }> {
  const started: Target[] = [];
  try {
    const backend = await nginxBackend(ctx.dir, ctx.cpu.load);
    started.push(backend);
    const secret = mintSecret('bench');
    const tokensFile = join(ctx.dir, 'auth-tokens.yaml');
    writeFileSync(tokensFile, `tokens:\n  - id: bench\n    tenants: [bench]\n    scopes: [metrics:write]\n    hash: '${scryptHash(secret)}'\n`);
    const authorization = `Basic ${Buffer.from(`bench:${secret}`).toString('base64')}`;
    // BENCH_AUTH_NODE_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/prof": one profile per gateway, to diff per function.
    const nodeFlags = process.env.BENCH_AUTH_NODE_FLAGS?.split(' ').filter(Boolean);
    const trust = await gateway(ctx.dir, ctx.cpu.proxy, { name: 'gateway-trust', configYaml: distributorConfig(backend.url), nodeFlags });
    started.push(trust);
    const token = await gateway(ctx.dir, ctx.cpu.proxy, {
      name: 'gateway-token',
      nodeFlags,
      configYaml: distributorConfig(backend.url, `auth:\n  type: token\n  tokens_file: ${tokensFile}\n`),
    });
    started.push(token);
    const rows = [
      { name: 'trust', label: 'metrics-gateway, -auth.type=trust (X-Scope-OrgID as sent)', target: trust, authorization: undefined },
      { name: 'token', label: 'metrics-gateway, -auth.type=token (basic auth, cached token)', target: token, authorization },
    ];
    for (const r of rows) {
      ctx.log(`warm-up ${r.label} ${ctx.warmupSeconds}s`);
      await measure(ctx, { url: r.target.url + PATH, child: r.target.child, seconds: ctx.warmupSeconds, authorization: r.authorization });
    }
    const results = new Map<string, Measurement[]>(rows.map((r) => [r.name, []]));
    for (let round = 1; round <= ctx.rounds; round++) {
      // Both at once, on the same CPU, under the same load: whatever else runs on this shared machine
      // hits both sides of the ratio alike (measured one after the other, rounds differed by ±40 %).
      const ms = await Promise.all(
        rows.map((r) => measure(ctx, { url: r.target.url + PATH, child: r.target.child, others: [backend.child!], seconds: ctx.seconds, connections: 25, authorization: r.authorization })),
      );
      rows.forEach((r, i) => {
        const m = ms[i]!;
        ctx.log(`round ${round} ${r.label}: ${fmt(m.rps, 0)} req/s p99 ${fmt(m.p99Ms, 2)} ms cpu ${fmt(m.cpuUsPerReq)} µs/req errors ${m.errors}`);
        results.get(r.name)!.push(m);
      });
    }
    const trustMs = results.get('trust')!;
    const perRound = results.get('token')!.map((m, i) => m.cpuUsPerReq! / trustMs[i]!.cpuUsPerReq!);
    const md = [
      '### auth. Token auth vs trust mode (8 KiB snappy POSTs, 25 keep-alive connections each, both loaded at once, HTTP path)',
      '',
      table(
        ['gateway', 'req/s', 'p50 ms', 'p99 ms', 'gateway CPU µs/req', '× trust (per round)', 'errors'],
        rows.map((r) => {
          const ms = results.get(r.name)!;
          return [
            r.label,
            fmt(median(ms.map((m) => m.rps)), 0),
            fmt(median(ms.map((m) => m.p50Ms)), 2),
            fmt(median(ms.map((m) => m.p99Ms)), 2),
            fmt(median(ms.map((m) => m.cpuUsPerReq!))),
            r.name === 'trust' ? '1.00×' : `${median(perRound).toFixed(3)}× (rounds: ${perRound.map((x) => x.toFixed(3)).join(', ')})`,
            String(ms.reduce((a, m) => a + m.errors, 0)),
          ];
        }),
      ),
      '',
    ];
    return { md: md.join('\n'), json: { rounds: Object.fromEntries(results), cpuRatioPerRound: perRound, cpuRatioMedian: median(perRound) } };
  } finally {
    for (const t of started.reverse()) await t.stop().catch(() => undefined);
  }
}
