// `profile`: the gateway under scenario a's load (and the httpgrpc path) with `node --cpu-prof`; the
// .cpuprofile files stay in the results folder (git-ignored) and are summarised by area and function.

import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { formatSummary, summarizeProfile } from '../cpuprofile-summary.js';
import { cluster, waitReadyEndpoints } from '../lib/cluster.js';
import { measure, type BenchContext } from '../lib/context.js';
import { fmt } from '../lib/report.js';
import { distributorConfig, gateway, nginxBackend, type Target } from '../lib/targets.js';

export async function profile(ctx: BenchContext): Promise<{ md: string; json: Record<string, unknown> }> {
  const md: string[] = ['### Profile (node --cpu-prof, gateway under 50 connections)', ''];
  const json: Record<string, unknown> = {};
  const backend = await nginxBackend(ctx.dir, ctx.cpu.load);
  try {
    const c = await cluster(ctx);
    for (const [path, url] of [
      ['http', backend.url],
      ['httpgrpc', c.url],
    ] as const) {
      const profDir = join(ctx.dir, `profile-${path}`);
      let gw: Target | undefined = await gateway(ctx.dir, ctx.cpu.proxy, {
        name: `gateway-profile-${path}`,
        configYaml: distributorConfig(url),
        nodeFlags: ['--cpu-prof', `--cpu-prof-dir=${profDir}`],
      });
      try {
        if (path === 'httpgrpc') await waitReadyEndpoints(gw.url, 3);
        await measure(ctx, { url: `${gw.url}/api/v1/push`, child: gw.child, seconds: ctx.warmupSeconds });
        const m = await measure(ctx, { url: `${gw.url}/api/v1/push`, child: gw.child, seconds: ctx.seconds * 2 });
        // The profile is written when the process exits (SIGTERM → graceful stop).
        await gw.stop();
        gw = undefined;
        const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
        if (!file) throw new Error(`no .cpuprofile in ${profDir}`);
        const s = summarizeProfile(join(profDir, file), 20);
        json[path] = { file: join(profDir, file), rps: m.rps, cpuUsPerReq: m.cpuUsPerReq, summary: s };
        md.push(`#### ${path} path: ${fmt(m.rps, 0)} req/s, ${fmt(m.cpuUsPerReq)} µs CPU/req while profiled`, '', '```', formatSummary(s), '```', '');
      } finally {
        await gw?.stop();
      }
    }
  } finally {
    await backend.stop();
  }
  return { md: md.join('\n'), json };
}
