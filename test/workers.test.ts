// -server.workers: real worker processes behind one port, fed by the primary's one xDS client.
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, request } from 'undici';
import { startCli, type Child } from './support/cli.js';
import { HttpBackend } from './support/http-backend.js';
import { eventually } from './support/poll.js';
import { workerCount, cgroupCpuLimit } from '../app/workers-count.js';
import { HttpGrpcServer } from '../examples/local/httpgrpc-server.js';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Worker pids: the primary's node children. */
function workerPids(primary: number): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(primary)], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** A request on a connection of its own, so the primary hands each one to the next worker. */
async function fresh(url: string): Promise<{ status: number; body: string }> {
  const agent = new Agent({ pipelining: 0 });
  try {
    const res = await request(url, { dispatcher: agent });
    return { status: res.statusCode, body: await res.body.text() };
  } finally {
    await agent.close();
  }
}

async function metrics(url: string): Promise<string> {
  return (await fresh(`${url}/metrics`)).body;
}

const value = (text: string, series: string): number => {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? NaN : Number(line.slice(series.length + 1));
};

describe('worker processes', () => {
  let backend: HttpBackend;
  let slowArrived: () => void = () => undefined;
  beforeAll(async () => {
    backend = await HttpBackend.start('backend', '127.0.0.2', (req, res) => {
      if (req.url === '/slow') {
        slowArrived();
        setTimeout(() => res.end('slow done'), 800);
      } else res.end('ok');
    });
  });
  afterAll(async () => backend?.close());

  const start = (): Promise<Child> =>
    startCli([`-gateway.proxy.default.url=${backend.url}`, '-server.workers=2', '-server.graceful-shutdown-timeout=5s'], {}, { readyTimeoutMs: 60_000 });

  it('serves from every worker on one port, /metrics adds them up, a killed worker is replaced', async () => {
    const gw = await start();
    try {
      const pids = workerPids(gw.proc.pid!);
      expect(pids).toHaveLength(2);
      for (let i = 0; i < 20; i++) expect(await fresh(`${gw.url}/x`)).toEqual({ status: 200, body: 'ok' });

      // Each worker counts what it served; /metrics, whichever worker answers, shows the sum.
      const m = await metrics(gw.url);
      expect(value(m, 'metrics_gateway_request_duration_seconds_count{backend="default",route="prefix:/",method="GET",status_code="200"}')).toBe(20);
      expect(value(m, 'metrics_gateway_workers')).toBe(2);
      expect(value(m, 'metrics_gateway_worker_config_applied{worker="1"}')).toBe(1);
      expect(value(m, 'metrics_gateway_worker_config_applied{worker="2"}')).toBe(1);
      // One xDS client: the primary's, one node in the control plane's view.
      expect(m.match(/^metrics_gateway_xds_connected\{[^}]*\} 1$/gm)).toHaveLength(1);
      // Whichever worker answers, /gateway/api/v1/config shows the primary's xDS client and its version.
      for (let i = 0; i < 2; i++) {
        const cfg = JSON.parse((await fresh(`${gw.url}/gateway/api/v1/config`)).body) as {
          applied: { version: string } | null;
          xds: { connected: boolean; versions: Record<string, string> } | null;
        };
        expect(cfg.xds?.connected).toBe(true);
        expect(Object.values(cfg.xds!.versions).sort()).toEqual(cfg.applied!.version.split('/').sort());
      }

      process.kill(pids[0]!, 'SIGKILL');
      await eventually(() => !workerPids(gw.proc.pid!).includes(pids[0]!), 'the worker to be gone', 10_000, 20);
      // The other worker serves while the replacement starts, and /ready says the gateway is not
      // whole until the replacement has applied the config too (it loads for a second or more).
      for (let i = 0; i < 10; i++) expect((await fresh(`${gw.url}/x`)).status).toBe(200);
      await eventually(
        async () => {
          const r = await fresh(`${gw.url}/ready`);
          return r.status === 503 && /worker \d of 2 has not applied a config yet/.test(r.body);
        },
        '/ready to say a worker has no config yet',
        10_000,
        20,
      );
      await eventually(async () => workerPids(gw.proc.pid!).length === 2 && (await fresh(`${gw.url}/ready`)).status === 200, 'a replacement worker, ready', 60_000, 100);
      const after = await metrics(gw.url);
      expect(value(after, 'metrics_gateway_worker_restarts_total')).toBe(1);
      expect(gw.output()).toMatch(/msg="worker exited; starting a replacement" worker=\d.* signal=SIGKILL/);
    } finally {
      await gw.stop('SIGKILL');
      for (const pid of workerPids(gw.proc.pid!)) process.kill(pid, 'SIGKILL');
    }
  });

  it('SIGTERM drains every worker: the in-flight request finishes, all processes exit 0', async () => {
    const gw = await start();
    const pids = workerPids(gw.proc.pid!);
    try {
      const arrived = new Promise<void>((r) => (slowArrived = r));
      const inFlight = request(`${gw.url}/slow`);
      await arrived;
      const exited = gw.stop('SIGTERM');
      const res = await inFlight;
      expect(res.statusCode).toBe(200);
      expect(await res.body.text()).toBe('slow done');
      expect(await exited).toBe(0);
      expect(gw.output().match(/msg=stopped worker=\d/g)).toHaveLength(2);
      await eventually(() => pids.every((p) => !alive(p)), 'every worker to exit', 10_000, 50);
    } finally {
      await gw.stop('SIGKILL');
      for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
    }
  });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('worker load reports', () => {
  it('every worker sends its per-endpoint load to the primary, which sums them', async () => {
    const distributor = await HttpGrpcServer.start({ host: '127.0.0.3' });
    const gw = await startCli([`-gateway.proxy.distributor.url=dns:///127.0.0.3:${distributor.port}`, '-server.workers=2'], {}, { readyTimeoutMs: 60_000 });
    try {
      for (let i = 0; i < 12; i++) expect((await fresh(`${gw.url}/api/v1/push`)).status).toBe(200);
      const series = `metrics_gateway_worker_load_reported_requests_total{backend="distributor",endpoint="127.0.0.3:${distributor.port}"}`;
      // Workers report every 0.5 s; both served some of the 12 (the primary hands connections round-robin).
      await eventually(async () => value(await metrics(gw.url), series) === 12, 'the primary to have summed 12 calls', 30_000, 500);
    } finally {
      await gw.stop('SIGKILL');
      for (const pid of workerPids(gw.proc.pid!)) process.kill(pid, 'SIGKILL');
      distributor.kill();
    }
  });
});

describe('-server.workers values', () => {
  it('takes a number or auto, capped by a cgroup CPU quota', () => {
    expect(workerCount('3')).toBe(3);
    expect(workerCount('auto')).toBeGreaterThanOrEqual(1);
    expect(workerCount('0')).toMatch(/must be "auto" or a whole number 1-256; got "0"/);
    expect(workerCount('two')).toMatch(/got "two"/);
    const root = mkdtempSync(join(tmpdir(), 'mgw-cgroup-'));
    try {
      writeFileSync(join(root, 'cpu.max'), '150000 100000\n');
      expect(cgroupCpuLimit(root)).toBe(2);
      writeFileSync(join(root, 'cpu.max'), 'max 100000\n');
      expect(cgroupCpuLimit(root)).toBeUndefined();
      rmSync(join(root, 'cpu.max'));
      mkdirSync(join(root, 'cpu'));
      writeFileSync(join(root, 'cpu', 'cpu.cfs_quota_us'), '50000');
      writeFileSync(join(root, 'cpu', 'cpu.cfs_period_us'), '100000');
      expect(cgroupCpuLimit(root)).toBe(1);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
