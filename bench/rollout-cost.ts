// What a bad config edit costs in failed requests, with canary rollouts and without (today's
// behaviour), in one run on one machine: a control plane and N gateway processes under the same paced
// load, query_frontend edited to a port that refuses, failures counted over the same window (the bake
// time plus two load-report intervals) after the edit, then the edit reverted. Bounded: two rounds of
// about half a minute each.
//
//   npm run build && node dist/bench/rollout-cost.js
//   BENCH_GATEWAYS=10 BENCH_RPS=20 BENCH_BAKE_S=20 node dist/bench/rollout-cost.js

import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { Pool } from 'undici';
import { controlPlane } from './lib/control-plane.js';
import { GATEWAY_CLI } from './lib/paths.js';
import { freePort, httpGet, killAll, loadAverage, start, waitFor, type Child } from './lib/proc.js';

const GATEWAYS = Number(process.env['BENCH_GATEWAYS'] ?? 10);
const RPS = Number(process.env['BENCH_RPS'] ?? 20);
const BAKE_S = Number(process.env['BENCH_BAKE_S'] ?? 20);
const FRACTION = Number(process.env['BENCH_FRACTION'] ?? 0.2);
const REPORT_S = 1;

interface Round {
  readonly mode: string;
  readonly sent: number;
  readonly failed: number;
  readonly failedGateways: number;
  readonly outcome: string;
}

async function refusedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.9', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function round(dir: string, mode: 'rollouts' | 'off', qf: string): Promise<Round> {
  const yaml = (url: string): string => `gateway:\n  proxy:\n    query_frontend: { url: "${url}" }\n    default: { url: "${qf}" }\n`;
  const flags = ['-control-plane.load-reporting-interval=1s'];
  if (mode === 'rollouts') flags.push(`-control-plane.rollout.canary-fraction=${FRACTION}`, `-control-plane.rollout.bake-time=${BAKE_S}s`, '-control-plane.rollout.min-requests=50');
  const cp = await controlPlane(dir, undefined, `cp-${mode}`, yaml(qf), flags);
  const gateways: { child: Child; url: string }[] = [];
  const pools: Pool[] = [];
  try {
    for (let i = 0; i < GATEWAYS; i++) {
      const port = await freePort();
      const child = start(`gw-${mode}-${i}`, process.execPath, [GATEWAY_CLI, '-target=gateway', `-gateway.xds.server-address=${cp.xdsAddress}`, `-gateway.xds.node-id=gw-${i}`, '-gateway.xds.cluster=bench', '-server.http-listen-address=127.0.0.1', `-server.http-listen-port=${port}`, '-log.level=error'], { cpu: undefined });
      const url = `http://127.0.0.1:${port}`;
      gateways.push({ child, url });
      await waitFor(`gw-${i} /ready`, 60_000, async () => ((await httpGet(`${url}/ready`, 1000))?.status === 200 ? true : undefined));
    }
    // Paced load on every gateway; failures counted per gateway from the edit on.
    let counting = false;
    const failed = new Array<number>(GATEWAYS).fill(0);
    let sent = 0;
    const timers = gateways.map((g, i) => {
      const pool = new Pool(g.url, { connections: 4 });
      pools.push(pool);
      return setInterval(() => {
        const counted = counting;
        if (counted) sent++;
        pool
          .request({ path: '/prometheus/api/v1/query', method: 'POST', body: 'query=up', headers: { 'x-scope-orgid': 'bench', 'content-type': 'application/x-www-form-urlencoded' } })
          .then(async (res) => {
            await res.body.dump();
            if (counted && res.statusCode >= 500) failed[i]!++;
          })
          .catch(() => void (counted && failed[i]!++));
      }, 1000 / RPS);
    });
    await new Promise((r) => setTimeout(r, 3000));
    counting = true;
    writeFileSync(cp.configFile, yaml(`http://127.0.0.9:${await refusedPort()}`));
    await new Promise((r) => setTimeout(r, (BAKE_S + 2 * REPORT_S) * 1000));
    counting = false;
    for (const t of timers) clearInterval(t);
    let outcome = 'served to every gateway';
    if (mode === 'rollouts') {
      const r = await cp.json<{ recent: { outcome: string; reason: string; startedAt: string; endedAt: string }[] }>('/control-plane/api/v1/rollout');
      const last = r.recent[0];
      outcome = last ? `${last.outcome} after ${((Date.parse(last.endedAt) - Date.parse(last.startedAt)) / 1000).toFixed(1)} s` : 'still baking';
    }
    return { mode, sent, failed: failed.reduce((a, b) => a + b, 0), failedGateways: failed.filter((f) => f > 0).length, outcome };
  } finally {
    await Promise.all(pools.map((p) => p.close()));
    await Promise.all(gateways.map((g) => g.child.stop(5000)));
    await cp.stop();
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mgw-bench-rollout-'));
  const qf = http.createServer((_req, res) => res.end('{"status":"success"}'));
  await new Promise<void>((r) => qf.listen(0, '127.0.0.6', r));
  const qfUrl = `http://127.0.0.6:${(qf.address() as AddressInfo).port}`;
  try {
    console.log(`rollout-cost: ${GATEWAYS} gateways × ${RPS} req/s, canary fraction ${FRACTION}, bake ${BAKE_S} s, window ${BAKE_S + 2 * REPORT_S} s after the edit; load average before ${loadAverage()}`);
    const off = await round(dir, 'off', qfUrl);
    const on = await round(dir, 'rollouts', qfUrl);
    for (const r of [off, on]) console.log(`  ${r.mode.padEnd(8)} sent ${r.sent}, failed ${r.failed} on ${r.failedGateways} gateways (${r.outcome})`);
    const ratio = off.failed > 0 ? on.failed / off.failed : NaN;
    console.log(`  ratio with/without: ${ratio.toFixed(4)} (issue target ≤ canary fraction × bake / the same: compare the failure counts; load average after ${loadAverage()})`);
  } finally {
    qf.close();
    killAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
