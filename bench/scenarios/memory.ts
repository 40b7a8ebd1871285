// Scenario e: the gateway's memory. RSS idle, under scenario a's load, and its growth after warm-up.
// Default: a 60 s run (15 s warm-up), honestly labelled; BENCH_LONG=1: the 10 minutes (60 s warm-up).

import type { BenchContext } from '../lib/context.js';
import { httpGet, rssBytes } from '../lib/proc.js';
import { fmt, median, mib, sleep, table } from '../lib/report.js';
import { distributorConfig, gateway, nginxBackend, type Target } from '../lib/targets.js';
import { runWrk } from '../lib/wrk.js';

async function heapUsed(url: string): Promise<number | undefined> {
  const r = await httpGet(`${url}/metrics`, 5000);
  const m = r ? /^nodejs_heap_size_used_bytes (\S+)$/m.exec(r.body) : null;
  return m ? Number(m[1]) : undefined;
}

export async function memory(ctx: BenchContext): Promise<{ md: string; json: Record<string, unknown> }> {
  const totalS = ctx.long ? 600 : 60;
  const warmupS = ctx.long ? 60 : 15;
  const started: Target[] = [];
  try {
    const backend = await nginxBackend(ctx.dir, ctx.cpu.load);
    started.push(backend);
    const gw = await gateway(ctx.dir, ctx.cpu.proxy, { name: 'gateway-memory', configYaml: distributorConfig(backend.url) });
    started.push(gw);
    const pid = gw.child!.pid;
    await sleep(2000);
    const idle = rssBytes(pid);
    const heapIdle = await heapUsed(gw.url);
    ctx.log(`memory: ${totalS} s under load (warm-up ${warmupS} s), idle RSS ${mib(idle)}`);

    const load = runWrk({ url: `${gw.url}/api/v1/push`, connections: 50, seconds: totalS, bodyFile: ctx.bodyFile, cpu: ctx.cpu.load });
    const t0 = Date.now();
    const samples: Array<{ s: number; rss: number }> = [];
    let heapWarm: number | undefined;
    while (Date.now() - t0 < totalS * 1000 - 500) {
      await sleep(1000);
      const s = (Date.now() - t0) / 1000;
      samples.push({ s, rss: rssBytes(pid) });
      if (heapWarm === undefined && s >= warmupS) heapWarm = await heapUsed(gw.url);
    }
    const heapEnd = await heapUsed(gw.url);
    const w = await load;
    await sleep(5000);
    const after = rssBytes(pid);

    const afterWarm = samples.filter((x) => x.s >= warmupS);
    const early = median(afterWarm.slice(0, 10).map((x) => x.rss));
    const late = median(afterWarm.slice(-10).map((x) => x.rss));
    const growth = (late / early - 1) * 100;
    const max = Math.max(...samples.map((x) => x.rss));
    const label = ctx.long ? `${totalS / 60}-minute run` : `SHORT ${totalS} s run (BENCH_LONG=1 for the issue's 10 minutes)`;
    const md = [
      `### e. Gateway memory (HTTP path under scenario a's load; ${label})`,
      '',
      table(
        ['idle RSS', `RSS after ${warmupS} s warm-up (median of 10 s)`, 'RSS at end (median of last 10 s)', 'growth after warm-up', 'max RSS', 'RSS 5 s after load', 'heap used idle / warm / end', 'requests', 'errors'],
        [
          [
            mib(idle),
            mib(early),
            mib(late),
            `${fmt(growth, 1)} %`,
            mib(max),
            mib(after),
            [heapIdle, heapWarm, heapEnd].map((h) => (h === undefined ? 'n/a' : mib(h))).join(' / '),
            String(w.requests),
            String(w.errors),
          ],
        ],
      ),
      '',
    ].join('\n');
    return { md, json: { totalS, warmupS, idle, early, late, growthPercent: growth, max, after, heapIdle, heapWarm, heapEnd, samples, wrk: w } };
  } finally {
    for (const t of started.reverse()) await t.stop().catch(() => undefined);
  }
}
