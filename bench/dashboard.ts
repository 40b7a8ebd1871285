// The fleet dashboard with 1,000 connected xDS clients: `npm run bench:dashboard` (env BENCH_NODES,
// default 1000). A control plane (-target=control-plane, its own process), a process holding 1,000 raw
// ADS + LRS streams (bench/fleet-streams.ts) and real headless Chromium. Measured on the page with
// the Long Tasks API (PerformanceObserver 'longtask': main-thread tasks over 50 ms):
//   1. load: navigation until the fleet table shows its first 50 rows and the summary counts 1,000;
//   2. update: a config edit that changes the Cluster version for all 1,000 nodes, until the page
//      shows 1,000 synced on CDS with the new version (and the ACK storm's ticks in between);
//   3. steady: 20 s of live updates (load reports from 1,000 nodes every 2 s).
// Side by side, the same steady 20 s on a page that renders the whole fleet on every tick (what the
// JSON API offered before paging: /nodes with every node, one table row each), as a ratio.
// BENCH_REPLICAS=3: three control-plane replicas peered over a dns:/// name (-control-plane.peers), the
// nodes spread over them, the page on the first: the fleet-wide page, merged from its peers.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DnsServer } from '../examples/local/dns-server.js';
import { launchBrowser } from './lib/chromium.js';
import { BENCH_DIST, GATEWAY_CLI, REPO } from './lib/paths.js';
import { freePort } from './lib/proc.js';

const NODES = Number(process.env['BENCH_NODES'] ?? 1000);
const REPLICAS = Math.max(1, Number(process.env['BENCH_REPLICAS'] ?? 1));
const log = (msg: string): void => void process.stderr.write(`[dashboard ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

interface LongTasks {
  count: number;
  totalMs: number;
  maxMs: number;
}

/** Starts a node child and resolves with it once `pattern` appears in its output. */
function startNode(args: string[], pattern: RegExp, timeoutMs: number): Promise<{ proc: ChildProcess; match: RegExpExecArray }> {
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${pattern} within ${timeoutMs} ms:\n${out.slice(-2000)}`)), timeoutMs);
    const onData = (d: Buffer): void => {
      out = (out + d.toString()).slice(-20_000);
      const m = pattern.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, match: m });
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    proc.once('exit', (code) => reject(new Error(`exited ${code}:\n${out.slice(-2000)}`)));
  });
}

/** The page's own render times (performance measures 'dashboard:*'), in [from, to): count and max per view. */
const renders = (from: number, to: number): string => `(() => {
  const out = {};
  for (const m of performance.getEntriesByType('measure')) {
    if (!m.name.startsWith('dashboard:') || m.startTime < ${from} || m.startTime >= ${to}) continue;
    const k = m.name.slice(10);
    const o = (out[k] ??= { count: 0, maxMs: 0 });
    o.count++;
    o.maxMs = Math.max(o.maxMs, Math.round(m.duration * 10) / 10);
  }
  return out;
})()`;

/** Long tasks that started in [from, to) ms of the page's clock. */
const longTasks = (from: number, to: number): string => `(() => {
  const l = window.__long.filter((e) => e.start >= ${from} && e.start < ${to});
  return { count: l.length, totalMs: Math.round(l.reduce((s, e) => s + e.duration, 0)), maxMs: Math.round(l.reduce((s, e) => Math.max(s, e.duration), 0)) };
})()`;

const OBSERVE = `
  window.__long = [];
  new PerformanceObserver((l) => { for (const e of l.getEntries()) window.__long.push({ start: e.startTime, duration: e.duration }); })
    .observe({ type: 'longtask', buffered: true });
`;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mgw-bench-dash-'));
  const dns = await DnsServer.start({ host: '127.0.0.1', port: 0 });
  dns.setRecords('distributor.bench', ['127.0.0.2', '127.0.0.3', '127.0.0.4'].map((address) => ({ type: 'A' as const, address, ttl: 5 })));
  const config = join(dir, 'config.yaml');
  const yaml = (qf: string): string =>
    `gateway:\n  proxy:\n    default: { url: "${qf}" }\n    distributor:\n      url: dns://${dns.authority}/distributor.bench:9095\n`;
  writeFileSync(config, yaml('http://127.0.0.1:9'));
  const children: ChildProcess[] = [];
  const browser = await launchBrowser();
  try {
    // One replica on 127.0.0.1, port 0; several on 127.0.0.21.. sharing one HTTP port, found through DNS.
    const hosts = REPLICAS === 1 ? ['127.0.0.1'] : Array.from({ length: REPLICAS }, (_, i) => `127.0.0.${21 + i}`);
    const httpPort = REPLICAS === 1 ? 0 : await freePort();
    if (REPLICAS > 1) dns.setRecords('cp-peers.bench', hosts.map((address) => ({ type: 'A' as const, address, ttl: 5 })));
    const replicas: { grpc: string; url: string }[] = [];
    for (const host of hosts) {
      const cp = await startNode(
        [GATEWAY_CLI, '-target=control-plane', `-config.file=${config}`, `-server.http-listen-address=${host}`, `-server.http-listen-port=${httpPort}`,
          '-server.grpc-listen-address=127.0.0.1', '-server.grpc-listen-port=0', '-control-plane.load-reporting-interval=2s', '-log.level=info',
          ...(REPLICAS > 1 ? [`-control-plane.peers=dns://${dns.authority}/cp-peers.bench:${httpPort}`] : [])],
        /msg="metrics-gateway started".* grpc=(\S+) http=(\S+)|msg="metrics-gateway started".* http=(\S+) grpc=(\S+)/,
        30_000,
      );
      children.push(cp.proc);
      const m = cp.match;
      replicas.push({ grpc: m[1] ?? m[4]!, url: m[2] ?? m[3]! });
    }
    const url = replicas[0]!.url;
    log(`control plane${REPLICAS > 1 ? `s (${REPLICAS} peered replicas)` : ''}: ${replicas.map((r) => `xDS ${r.grpc}, HTTP ${r.url}`).join('; ')}; starting ${NODES} ADS + LRS streams`);
    const started = Date.now();
    await Promise.all(
      replicas.map(async (r, i) => {
        const n = Math.floor(NODES / REPLICAS) + (i < NODES % REPLICAS ? 1 : 0);
        const fleet = await startNode([join(BENCH_DIST, 'fleet-streams.js'), r.grpc, r.url, String(n), String(Math.max(1, Math.round(20 / REPLICAS))), `bench-r${i}`], /ready (\d+)/, 300_000);
        children.push(fleet.proc);
      }),
    );
    log(`${NODES} nodes synced on every type in ${Date.now() - started} ms`);

    const page = browser.page;
    await page.addInitScript(OBSERVE);
    // 1. load
    await page.goto(`${url}/control-plane/`);
    // Page-side code as strings: the bench compiles without the DOM library.
    await page.waitForFunction(
      `document.querySelectorAll('#nodes tbody tr[data-node]').length === 50 && document.querySelector('[data-count="connected"] b')?.textContent === '${NODES}'`,
      null,
      { timeout: 60_000, polling: 50 },
    );
    const now = (on = page): Promise<number> => on.evaluate('performance.now()');
    const loadMs = await now();
    const longAt = (from: number, to: number, on = page): Promise<LongTasks> => on.evaluate(longTasks(from, to));
    const rendersAt = (from: number, to: number, on = page): Promise<unknown> => on.evaluate(renders(from, to));
    const load = await longAt(0, loadMs + 1);
    const loadRenders = await rendersAt(0, loadMs + 1);
    log(`load: ${loadMs.toFixed(0)} ms to 50 rows and ${NODES} connected; long tasks ${JSON.stringify(load)}; renders ${JSON.stringify(loadRenders)}`);

    // 2. update: a config edit changes the Cluster version for every node.
    const before = await page.textContent('#versions');
    const editAt = await now();
    writeFileSync(config, yaml('http://127.0.0.1:10'));
    await page.waitForFunction(
      `document.querySelector('#versions')?.textContent !== ${JSON.stringify(before)} && document.querySelector('[data-count="CDS"] b')?.firstChild?.textContent === '${NODES}'`,
      null,
      { timeout: 60_000, polling: 50 },
    ).catch(async (err: Error) => {
      throw new Error(`${err.message}; page shows versions ${await page.textContent('#versions')}, CDS ${await page.textContent('[data-count="CDS"]')}`);
    });
    const updatedAt = await now();
    const update = await longAt(editAt, updatedAt + 1);
    const updateRenders = await rendersAt(editAt, updatedAt + 1);
    log(`update: ${(updatedAt - editAt).toFixed(0)} ms from the edit to ${NODES} synced on the new Cluster version on the page; long tasks ${JSON.stringify(update)}; renders ${JSON.stringify(updateRenders)}`);

    // 3. steady live updates, ours.
    const steadyMs = 20_000;
    const s0 = await now();
    await page.waitForTimeout(steadyMs);
    const steady = await longAt(s0, s0 + steadyMs + 1000);
    const steadyRenders = await rendersAt(s0, s0 + steadyMs + 1000);
    const ticks = await page.evaluate<number>(`performance.getEntriesByType('resource').filter((e) => e.name.includes('/api/v1/nodes')).length`);
    log(`steady ${steadyMs / 1000} s: long tasks ${JSON.stringify(steady)}; renders ${JSON.stringify(steadyRenders)}; /nodes page reads so far ${ticks}`);

    // Peer: the whole fleet rendered on every tick (no paging), same events, same 20 s.
    const peer = await browser.context.newPage();
    await peer.addInitScript(OBSERVE);
    await peer.goto(`${url}/control-plane/api/v1/nodes?limit=1`);
    const p0 = await now(peer);
    await peer.evaluate(`(() => {
      document.body.innerHTML = '<table><tbody id="all"></tbody></table>';
      const render = async () => {
        const all = await (await fetch('/control-plane/api/v1/nodes?limit=1000')).json();
        const start = performance.now();
        document.getElementById('all').innerHTML = all.nodes
          .map((n) => '<tr><td>' + n.nodeId + '</td><td>' + n.cluster + '</td>' + Object.values(n.sync).map((s) => '<td>' + s + '</td>').join('') + '<td>' + (n.load ? n.load.rps : '') + '</td></tr>')
          .join('');
        document.body.offsetHeight; // layout now, inside the measure
        performance.measure('dashboard:fleet', { start, end: performance.now() });
      };
      new EventSource('/control-plane/api/v1/events').onmessage = () => void render();
    })()`);
    await peer.waitForTimeout(steadyMs);
    const p1 = p0 + steadyMs + 1000;
    const peerSteady = await longAt(p0, p1, peer);
    const peerRenders = await rendersAt(p0, p1, peer);
    await peer.close();
    log(`peer (whole fleet per tick) steady ${steadyMs / 1000} s: long tasks ${JSON.stringify(peerSteady)}; renders ${JSON.stringify(peerRenders)}`);

    const result = {
      nodes: NODES,
      replicas: REPLICAS,
      loadAverage: loadavg().map((x) => x.toFixed(2)).join(' '),
      load: { ms: Math.round(loadMs), longTasks: load, renders: loadRenders },
      update: { ms: Math.round(updatedAt - editAt), longTasks: update, renders: updateRenders },
      steady: { seconds: steadyMs / 1000, longTasks: steady, renders: steadyRenders },
      peerWholeFleet: { seconds: steadyMs / 1000, longTasks: peerSteady, renders: peerRenders },
      errors: browser.errors,
    };
    const out = join(REPO, 'bench', 'results');
    mkdirSync(out, { recursive: true });
    const file = join(out, `dashboard-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    writeFileSync(file, JSON.stringify(result, null, 2));
    process.stdout.write(`${JSON.stringify(result, null, 2)}\nwritten to ${file}\n`);
    const worst = Math.max(load.maxMs, update.maxMs, steady.maxMs);
    if (worst > 100 || browser.errors.length > 0) process.exitCode = 1;
  } finally {
    await browser.close();
    for (const c of children) c.kill('SIGKILL');
    await dns.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench dashboard failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
