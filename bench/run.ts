// metrics-gateway benchmarks: `npm run bench [-- a b c d e f w floor profile auth tls fleet push dns od lr hb z]` (default: a-f).
// Compares the gateway with nginx, HAProxy, a node:http + undici proxy, a direct connection and grpc-js's
// own DNS balancing, in one run on one machine, all on loopback, every load bounded in time.
// Needs nginx, haproxy and wrk on PATH (see BENCHMARKS.md). Results: bench/results/<time>/.
//
// Environment: BENCH_SECONDS (measured seconds per round, default 5), BENCH_ROUNDS (default 3),
// BENCH_WARMUP (default 3), BENCH_LONG=1 (10-minute memory run), BENCH_PIN=0 (no CPU pinning).

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { writeRemoteWriteBody } from './lib/body.js';
import type { BenchContext, CpuLayout } from './lib/context.js';
import { REPO, GATEWAY_CLI } from './lib/paths.js';
import { Peers } from './lib/peers-client.js';
import { killAll, loadAverage } from './lib/proc.js';
import { auth } from './scenarios/auth.js';
import { balance } from './scenarios/balance.js';
import { dnsNames } from './scenarios/dns-names.js';
import { fleetBench } from './scenarios/fleet.js';
import { pushBench } from './scenarios/fleet-push.js';
import { grpcFloor } from './scenarios/grpc-floor.js';
import { healthyOverhead, sickDistributor, slowDistributor } from './scenarios/health-balancing.js';
import { zones } from './scenarios/zones.js';
import { memory } from './scenarios/memory.js';
import { profile } from './scenarios/profile.js';
import { reload } from './scenarios/reload.js';
import { scaleOut } from './scenarios/scale-out.js';
import { throughput, type Summary } from './scenarios/throughput.js';
import { tls } from './scenarios/tls.js';
import { workers } from './scenarios/workers.js';

const ALL = ['a', 'b', 'c', 'd', 'e', 'f'] as const;
/** Control-plane scenarios (issue 11): no nginx, HAProxy or wrk needed. */
const CONTROL_PLANE = ['fleet', 'push', 'dns'] as const;
/** Balancing that sees health (issue 19): sick distributor + Prometheus, slow distributor, healthy overhead. */
const HEALTH = ['od', 'lr', 'hb', 'z'] as const;
const KNOWN = new Set<string>([...ALL, 'profile', 'floor', 'w', 'auth', 'tls', ...CONTROL_PLANE, ...HEALTH]);
/** Whole-run bound: nothing may keep loading the machine past this. */
const WATCHDOG_MS = (process.env['BENCH_LONG'] === '1' ? 45 : 25) * 60_000;

/** First line a tool prints about its version (nginx and wrk print it on stderr); '' when not installed. */
function version(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error) return '';
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.split('\n')[0]!.trim();
}

function envNumber(name: string, dflt: number): number {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : dflt;
}

async function main(): Promise<number> {
  const asked = process.argv.slice(2).map((a) => a.toLowerCase());
  for (const a of asked) if (!KNOWN.has(a)) throw new Error(`unknown scenario "${a}"; pick from ${[...KNOWN].join(' ')}`);
  const chosen = new Set(asked.length > 0 ? asked : ALL);

  const tools = { nginx: version('nginx', ['-v']), haproxy: version('haproxy', ['-v']), wrk: version('wrk', ['-v']) };
  const missing = Object.entries(tools).filter(([, v]) => v === '').map(([k]) => k);
  const needsTools = [...chosen].some((c) => !(CONTROL_PLANE as readonly string[]).includes(c));
  if (missing.length > 0 && needsTools) {
    process.stderr.write(`bench needs ${missing.join(', ')} on PATH: apt-get install -y nginx haproxy wrk (see BENCHMARKS.md)\n`);
    return 2;
  }
  if (!existsSync(GATEWAY_CLI)) {
    process.stderr.write(`no ${GATEWAY_CLI}: run npm run build first\n`);
    return 2;
  }

  const ncpu = cpus().length;
  const pin = process.env['BENCH_PIN'] !== '0' && ncpu >= 2;
  // Two cores: the proxy under test gets one to itself; wrk, backends, peers and this orchestrator share the other.
  const cpu: CpuLayout = pin ? { proxy: '1', load: '0' } : { proxy: undefined, load: undefined };
  if (pin) execFileSync('taskset', ['-a', '-p', '-c', '0', String(process.pid)], { stdio: 'ignore' });

  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const dir = join(REPO, 'bench', 'results', stamp);
  mkdirSync(dir, { recursive: true });
  const bodyFile = join(dir, 'remote-write.bin');
  const body = writeRemoteWriteBody(bodyFile);
  const log = (msg: string): void => void process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

  const peers = Peers.start(cpu.load, join(dir, 'peers.log'));
  const ctx: BenchContext = {
    dir,
    bodyFile,
    cpu,
    seconds: envNumber('BENCH_SECONDS', 5),
    rounds: envNumber('BENCH_ROUNDS', 3),
    warmupSeconds: envNumber('BENCH_WARMUP', 3),
    long: process.env['BENCH_LONG'] === '1',
    peers,
    log,
  };

  const machine = {
    date: new Date().toISOString(),
    cpu: `${ncpu} × ${cpus()[0]?.model ?? '?'}`,
    kernel: version('uname', ['-r']),
    node: process.version,
    ...tools,
    pinning: pin ? `proxy under test on CPU ${cpu.proxy}; wrk (1 thread), backends, peers and the orchestrator on CPU ${cpu.load}` : 'not pinned',
    loadBefore: loadAverage(),
    body: `${body.bytes} bytes snappy remote-write (${body.series} series)`,
    run: `${ctx.rounds} rounds × ${ctx.seconds} s measured per target (median round), ${ctx.warmupSeconds} s warm-up`,
  };
  log(`results in ${dir}`);
  const md: string[] = ['# metrics-gateway bench results', '', ...Object.entries(machine).map(([k, v]) => `- ${k}: ${v}`), ''];
  const json: Record<string, unknown> = { machine };

  let gatewayHttp: Summary | undefined;
  try {
    if (chosen.has('a') || chosen.has('b')) {
      const r = await throughput(ctx, { a: chosen.has('a'), b: chosen.has('b') });
      md.push(r.md);
      json['throughput'] = r.json;
      gatewayHttp = r.gatewayHttp;
    }
    if (chosen.has('c')) {
      const r = await balance(ctx);
      md.push(r.md);
      json['balance'] = r.json;
    }
    if (chosen.has('d')) {
      const r = await scaleOut(ctx);
      md.push(r.md);
      json['scaleOut'] = r.json;
    }
    if (chosen.has('e')) {
      const r = await memory(ctx);
      md.push(r.md);
      json['memory'] = r.json;
    }
    if (chosen.has('f')) {
      const r = await reload(ctx, gatewayHttp);
      md.push(r.md);
      json['reload'] = r.json;
    }
    if (chosen.has('w')) {
      const r = await workers(ctx);
      md.push(r.md);
      json['workers'] = r.json;
    }
    if (chosen.has('floor')) {
      const r = await grpcFloor(ctx);
      md.push(r.md);
      json['floor'] = r.json;
    }
    if (chosen.has('dns')) {
      const r = await dnsNames(ctx);
      md.push(r.md);
      json['dns'] = r.json;
    }
    if (chosen.has('fleet')) {
      const r = await fleetBench(ctx);
      md.push(r.md);
      json['fleet'] = r.json;
    }
    if (chosen.has('push')) {
      const r = await pushBench(ctx);
      md.push(r.md);
      json['push'] = r.json;
    }
    if (chosen.has('auth')) {
      const r = await auth(ctx);
      md.push(r.md);
      json['auth'] = r.json;
    }
    if (chosen.has('tls')) {
      const r = await tls(ctx);
      md.push(r.md);
      json['tls'] = r.json;
    }
    for (const [key, run] of [['od', sickDistributor], ['lr', slowDistributor], ['hb', healthyOverhead], ['z', zones]] as const) {
      if (!chosen.has(key)) continue;
      const r = await run(ctx);
      md.push(r.md);
      json[key] = r.json;
    }
    if (chosen.has('profile')) {
      const r = await profile(ctx);
      md.push(r.md);
      json['profile'] = r.json;
    }
  } finally {
    await peers.close();
    killAll();
  }
  md.push(`Load average after: ${loadAverage()} (before: ${machine.loadBefore}).`, '');
  writeFileSync(join(dir, 'summary.md'), md.join('\n'));
  writeFileSync(join(dir, 'results.json'), JSON.stringify(json, null, 2));
  process.stdout.write(md.join('\n') + '\n');
  log(`wrote ${join(dir, 'summary.md')}`);
  return 0;
}

const watchdog = setTimeout(() => {
  process.stderr.write(`bench: still running after ${WATCHDOG_MS / 60_000} min; stopping everything\n`);
  killAll();
  process.exit(3);
}, WATCHDOG_MS);
watchdog.unref();
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    killAll();
    process.exit(130);
  });
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    killAll();
    process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
