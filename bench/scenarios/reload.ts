// Scenario f: 20 config changes under load. Each change rewrites the gateway's config file (atomically,
// as a ConfigMap update does) with a new distributor timeout, which replaces the distributor's upstream
// (new undici pool; the old one closes after its last request): the heaviest kind of reload. Waits for
// /gateway/api/v1/config `applied.version` to change before the next edit.

import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { BenchContext } from '../lib/context.js';
import { fmt, median, sleep, table } from '../lib/report.js';
import { distributorConfig, gateway, nginxBackend, type Target } from '../lib/targets.js';
import { runWrk } from '../lib/wrk.js';
import type { Summary } from './throughput.js';

const CHANGES = 20;

export async function reload(ctx: BenchContext, baseline: Summary | undefined): Promise<{ md: string; json: Record<string, unknown> }> {
  const started: Target[] = [];
  try {
    const backend = await nginxBackend(ctx.dir, ctx.cpu.load);
    started.push(backend);
    const config = (i: number): string => distributorConfig(backend.url, `      timeout: ${60 + i}s\n`);
    const gw = await gateway(ctx.dir, ctx.cpu.proxy, { name: 'gateway-reload', configYaml: config(0) });
    started.push(gw);
    await runWrk({ url: `${gw.url}/api/v1/push`, connections: 50, seconds: ctx.warmupSeconds, bodyFile: ctx.bodyFile, cpu: ctx.cpu.load });

    const stop = new AbortController();
    const load = runWrk({ url: `${gw.url}/api/v1/push`, connections: 50, seconds: 120, bodyFile: ctx.bodyFile, cpu: ctx.cpu.load, stop: stop.signal });
    const applyMs: number[] = [];
    let missed = 0;
    try {
      await sleep(1000);
      for (let i = 1; i <= CHANGES; i++) {
        const before = await gw.appliedVersion();
        const tmp = `${gw.configFile}.tmp`;
        writeFileSync(tmp, config(i));
        renameSync(tmp, gw.configFile);
        const t = Date.now();
        let now = before;
        while (now === before && Date.now() - t < 10_000) {
          await sleep(25);
          now = await gw.appliedVersion();
        }
        if (now === before) missed++;
        else applyMs.push(Date.now() - t);
        await sleep(250);
      }
      await sleep(1000);
    } finally {
      stop.abort();
    }
    const w = await load;
    const log = readFileSync(`${ctx.dir}/gateway-reload.log`, 'utf8');
    const upstreamFailures = log.split('\n').filter((l) => l.includes('upstream request failed')).length;
    const md = [
      `### f. ${CHANGES} config reloads under load (50 connections, each reload replaces the distributor's upstream pool)`,
      '',
      table(
        ['requests', 'failed (non-2xx + socket errors)', 'p50 ms', 'p99 ms', 'max ms', 'p99 without reloads (a)', 'reload applied after (median / max)', 'reloads not applied in 10 s', 'gateway "upstream request failed" logs'],
        [
          [
            String(w.requests),
            `${w.errors} (${w.non2xx} non-2xx)`,
            fmt(w.p50Ms, 2),
            fmt(w.p99Ms, 2),
            fmt(w.maxMs, 1),
            baseline ? fmt(baseline.p99Ms, 2) : 'run with a',
            `${fmt(median(applyMs), 0)} / ${fmt(Math.max(...applyMs), 0)} ms`,
            String(missed),
            String(upstreamFailures),
          ],
        ],
      ),
      '',
      `Run length ${fmt(w.seconds, 1)} s. Apply time = file renamed → new applied.version visible (config watcher debounce + xDS push + swap).`,
      '',
    ].join('\n');
    return { md, json: { wrk: w, applyMs, missed, upstreamFailures } };
  } finally {
    for (const t of started.reverse()) await t.stop().catch(() => undefined);
  }
}
