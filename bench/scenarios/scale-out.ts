// Scenario d: a 4th distributor's A record appears in DNS while 50 clients push. How long until it gets
// its first request, and until it gets its fair share (1/4)? metrics-gateway with a 1 s and the default
// 5 s DNS lookup period (records carry CoreDNS's 5 s TTL), against a grpc-js client that balances by
// itself with its `dns:` resolver and round_robin (bounded wait: it re-resolves only after a failure).

import { join } from 'node:path';
import { cluster, DNS_NAME, DISTRIBUTOR_HOSTS, RECORD_TTL_S, waitReadyEndpoints } from '../lib/cluster.js';
import type { BenchContext } from '../lib/context.js';
import { BENCH_DIST } from '../lib/paths.js';
import type { TimelinePoint } from '../lib/peers-protocol.js';
import { start, waitFor } from '../lib/proc.js';
import { fmt, sleep, table } from '../lib/report.js';
import { distributorConfig, gateway } from '../lib/targets.js';
import { runWrk } from '../lib/wrk.js';

const NEW_HOST = '127.0.0.5';
const GRPC_JS_WAIT_S = 45;
const GATEWAY_WAIT_S = 20;
const SAMPLE_MS = 50;
/** Fair share: over the last WINDOW_MS the new distributor got at least 90 % of 1/4 of the requests. */
const WINDOW_MS = 250;
const FAIR = 0.9 / 4;
/** Trials per lookup period: the phase of the DNS change within the period decides each wait. */
const TRIALS: Record<string, number> = { '1s': 5, '5s': 3 };

interface Trial {
  readonly firstMs: number | undefined;
  readonly fairMs: number | undefined;
}

/** Time from t0 until the first sample whose trailing window gives `key` its fair share. */
export function fairShareAt(points: readonly TimelinePoint[], t0: number, key: string, keys: readonly string[]): number | undefined {
  for (let i = 0; i < points.length; i++) {
    const p = points[i]!;
    if (p.t < t0 + WINDOW_MS) continue;
    let j = i;
    while (j > 0 && points[j]!.t > p.t - WINDOW_MS) j--;
    const q = points[j]!;
    let total = 0;
    for (const k of keys) total += (p.counts[k] ?? 0) - (q.counts[k] ?? 0);
    const mine = (p.counts[key] ?? 0) - (q.counts[key] ?? 0);
    if (total > 0 && mine / total >= FAIR) return p.t - t0;
  }
  return undefined;
}

/** Publishes the 4th record and measures; then takes it out again and waits until it gets nothing. */
async function trial(ctx: BenchContext, keys: readonly string[], newKey: string, waitS: number): Promise<Trial> {
  await ctx.peers.sample(SAMPLE_MS);
  const t0 = await ctx.peers.records(DNS_NAME, [...DISTRIBUTOR_HOSTS, NEW_HOST], RECORD_TTL_S);
  const deadline = t0 + waitS * 1000;
  let firstMs: number | undefined;
  let fairMs: number | undefined;
  while (Date.now() < deadline && fairMs === undefined) {
    await sleep(100);
    const first = (await ctx.peers.counts())[newKey]?.firstAt;
    if (first != null) firstMs ??= first - t0;
    if (firstMs !== undefined) fairMs = fairShareAt(await ctx.peers.timeline(), t0, newKey, keys);
  }
  await ctx.peers.sample(0);
  await ctx.peers.records(DNS_NAME, DISTRIBUTOR_HOSTS, RECORD_TTL_S);
  // Back to three: wait (bounded) until the 4th has had no request for a second.
  let last = -1;
  let quietSince = Date.now();
  const until = Date.now() + 20_000;
  while (Date.now() < until && Date.now() - quietSince < 1000) {
    await sleep(100);
    const n = (await ctx.peers.counts())[newKey]?.requests ?? 0;
    if (n !== last) {
      last = n;
      quietSince = Date.now();
    }
  }
  return { firstMs, fairMs };
}

function cell(ms: number | undefined, waitS: number, what: string): string {
  return ms === undefined ? `no ${what} within ${waitS} s` : `${fmt(ms / 1000, 2)} s`;
}

export async function scaleOut(ctx: BenchContext): Promise<{ md: string; json: Record<string, unknown> }> {
  const c = await cluster(ctx);
  await ctx.peers.grpc([NEW_HOST], c.grpcPort);
  const newKey = `${NEW_HOST}:${c.grpcPort}`;
  const keys = [...c.keys, newKey];
  const results: Record<string, Trial[]> = {};
  try {
    for (const period of ['1s', '5s']) {
      const name = `gateway (lookup period ${period}${period === '5s' ? ', default' : ''})`;
      const gw = await gateway(ctx.dir, ctx.cpu.proxy, {
        name: `gateway-scale-${period}`,
        configYaml: distributorConfig(c.url),
        extraFlags: [`-control-plane.dns.lookup-period=${period}`],
      });
      const stop = new AbortController();
      try {
        await waitReadyEndpoints(gw.url, 3);
        const load = runWrk({ url: `${gw.url}/api/v1/push`, connections: 50, seconds: 150, bodyFile: ctx.bodyFile, cpu: ctx.cpu.load, stop: stop.signal });
        await sleep(2000);
        results[name] = [];
        for (let i = 0; i < TRIALS[period]!; i++) {
          // Spread the moment the record appears over the lookup period (its phase decides the wait).
          await sleep(((i * 0.37) % 1) * (period === '1s' ? 1000 : 5000));
          const t = await trial(ctx, keys, newKey, GATEWAY_WAIT_S);
          ctx.log(`scale-out ${name} trial ${i + 1}: first ${t.firstMs} ms, fair share ${t.fairMs} ms`);
          results[name].push(t);
        }
        stop.abort();
        const w = await load;
        ctx.log(`scale-out ${name}: ${w.requests} requests, ${w.errors} errors under load`);
      } finally {
        stop.abort();
        await gw.stop();
      }
    }

    // grpc-js balancing by itself: a client process on the proxy CPU.
    const name = 'grpc-js dns: resolver + round_robin';
    const client = start('grpc-js-client', process.execPath, [join(BENCH_DIST, 'grpc-rr-client.js'), c.url, '50', String(GRPC_JS_WAIT_S + 30), ctx.bodyFile], {
      cpu: ctx.cpu.proxy,
      logFile: join(ctx.dir, 'grpc-rr-client.log'),
      // grpc-js sends dns:// lookups to the URI's authority (our DNS server) only with its alternative
      // (c-ares) resolver; by default it calls getaddrinfo and ignores the authority.
      env: { GRPC_NODE_USE_ALTERNATIVE_RESOLVER: 'true' },
    });
    try {
      const base = await ctx.peers.counts();
      await waitFor('grpc-js client to reach all 3 distributors', 15_000, async () => {
        const now = await ctx.peers.counts();
        return c.keys.every((k) => (now[k]?.requests ?? 0) > (base[k]?.requests ?? 0) + 100) ? true : undefined;
      });
      const t = await trial(ctx, keys, newKey, GRPC_JS_WAIT_S);
      ctx.log(`scale-out ${name}: first ${t.firstMs} ms, fair share ${t.fairMs} ms`);
      results[name] = [t];
    } finally {
      await client.stop();
    }
  } finally {
    await ctx.peers.stopPeers([newKey]).catch(() => undefined);
  }

  const rows = Object.entries(results).map(([name, trials]) => {
    const waitS = name.startsWith('grpc-js') ? GRPC_JS_WAIT_S : GATEWAY_WAIT_S;
    return [name, trials.map((t) => cell(t.firstMs, waitS, 'traffic')).join(', '), trials.map((t) => cell(t.fairMs, waitS, 'fair share')).join(', ')];
  });
  const md = [
    '### d. Scale-out: a 4th distributor appears in DNS under load (50 clients)',
    '',
    table(['balancer', 'time to first request (per trial)', `time to fair share (≥ 90 % of 1/4 over ${WINDOW_MS} ms)`], rows),
    '',
    `Records carry a ${RECORD_TTL_S} s TTL (CoreDNS's default for Kubernetes). The gateway trials add the record at different phases of its lookup period. Times are from the DNS change to the first request the new distributor handled (${SAMPLE_MS} ms sampling for fair share).`,
    '',
  ].join('\n');
  return { md, json: results };
}
