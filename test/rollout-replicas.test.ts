import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { DnsServer } from '../examples/local/dns-server.js';
import type { RolloutStatus } from '../control-plane/rollout/rollouts.js';
import { HttpBackend } from './support/http-backend.js';
import { refusedPort, startControlPlaneProcess, startGatewayProcess, WatchedConfig, type ControlPlaneProcess } from './support/fleet.js';
import type { Child } from './support/cli.js';
import { startPacedLoad, type Load } from './support/load.js';
import { eventually } from './support/poll.js';
import { freePort } from './support/prometheus.js';

// Two control-plane replicas (peers through a dns:/// name on a real DNS server), each watching its
// own copy of the config, as two pods see a ConfigMap update at different times: each edit reaches
// one replica 15 s before the other. Four gateways, two on each. Whatever the order, both replicas end
// on the same config: a good edit promoted by both (the later one adopts the earlier start), a bad
// one rolled back by both (rollback wins; the later replica takes it from its peer at once).

const HOSTS = ['127.0.0.21', '127.0.0.22'];
const PEERS = 'cp-rollout-peers.test';
const BAKE_S = 20;
const APART_MS = 15_000;

describe('two replicas seeing each edit 15 s apart reach the same end', () => {
  let dns: DnsServer;
  let qfA: HttpBackend;
  let qfB: HttpBackend;
  let dist: HttpBackend;
  const configs: WatchedConfig[] = [];
  const replicas: ControlPlaneProcess[] = [];
  const gateways: Child[] = [];
  let loads: Load[] = [];
  const yaml = (qf: string): string => `gateway:\n  proxy:\n    query_frontend: { url: "${qf}" }\n    distributor: { url: "${dist.url}" }\n`;
  const rolloutOf = async (r: ControlPlaneProcess): Promise<RolloutStatus> =>
    (await (await request(`${r.child.url}/control-plane/api/v1/rollout`)).body.json()) as RolloutStatus;
  const backendOf = async (g: Child): Promise<string> => {
    const res = await request(`${g.url}/prometheus/api/v1/labels`, { headers: { 'x-scope-orgid': 't' } });
    await res.body.dump();
    return String(res.headers['x-backend'] ?? res.statusCode);
  };
  /** Edits replica 0's file, then replica 1's 15 s later; resolves once both ended a rollout of it. */
  const editApart = async (content: string): Promise<RolloutStatus[]> => {
    const before = await Promise.all(replicas.map(rolloutOf));
    configs[0]!.replaceAtomically(content);
    await sleep(APART_MS);
    configs[1]!.replaceAtomically(content);
    return (await eventually(async () => {
      const now = await Promise.all(replicas.map(rolloutOf));
      const ended = now.every((s, i) => s.active === null && s.recent.length > before[i]!.recent.length);
      return ended ? now : undefined;
    }, 'both replicas ended the rollout', 120_000, 250))!;
  };

  beforeAll(async () => {
    dns = await DnsServer.start({ host: '127.0.0.1', port: 0 });
    qfA = await HttpBackend.start('qf-a', '127.0.0.6');
    qfB = await HttpBackend.start('qf-b', '127.0.0.7');
    dist = await HttpBackend.start('dist', '127.0.0.5');
    const httpPort = await freePort();
    dns.setRecords(PEERS, HOSTS.map((address) => ({ type: 'A' as const, address, ttl: 1 })));
    for (const host of HOSTS) {
      const c = new WatchedConfig(yaml(qfA.url));
      configs.push(c);
      replicas.push(
        await startControlPlaneProcess(c, 0, [
          `-server.http-listen-address=${host}`,
          `-server.http-listen-port=${httpPort}`,
          `-control-plane.peers=dns://${dns.authority}/${PEERS}:${httpPort}`,
          '-control-plane.rollout.canary-fraction=0.25',
          `-control-plane.rollout.bake-time=${BAKE_S}s`,
          '-control-plane.rollout.min-requests=30',
          '-control-plane.load-reporting-interval=1s',
        ]),
      );
    }
    for (let i = 0; i < 4; i++) {
      gateways.push(await startGatewayProcess(replicas[i % 2]!.xdsAddress, [`-gateway.xds.node-id=gw-${i}`, '-gateway.xds.cluster=edge']));
    }
    for (const g of gateways) await eventually(async () => (await backendOf(g)) === 'qf-a', 'qf-a on every gateway');
    // Each replica sees the other's gateways before any edit (the cohort is drawn from the whole fleet).
    await eventually(async () => {
      const all = await Promise.all(replicas.map(async (r) => (await (await request(`${r.child.url}/control-plane/api/v1/nodes`)).body.json()) as { summary: { connected: number } }));
      return all.every((a) => a.summary.connected === 4);
    }, 'both replicas see the four gateways');
    loads = gateways.map((g) => startPacedLoad(g.url, '/prometheus/api/v1/query', 10, 240_000));
  }, 180_000);

  afterAll(async () => {
    await Promise.all(loads.map((l) => l.stop()));
    await Promise.all(gateways.map((g) => g.stop()));
    await Promise.all(replicas.map((r) => r.child.stop()));
    await Promise.all([qfA, qfB, dist].map((b) => b?.close()));
    await dns?.close();
    for (const c of configs) c.remove();
  });

  it('a good edit: both promote the same content, from the same start, and every gateway runs it', async () => {
    const ends = await editApart(yaml(qfB.url));
    const [a, b] = ends.map((s) => s.recent[0]!);
    expect(a!.outcome).toBe('promoted');
    expect(b!.outcome).toBe('promoted');
    expect(b!.id).toBe(a!.id);
    expect(b!.canaries).toEqual(a!.canaries);
    // The later replica adopted the earlier start, so the fleet was split for one bake, not two.
    expect(b!.startedAt).toBe(a!.startedAt);
    for (const g of gateways) await eventually(async () => (await backendOf(g)) === 'qf-b', 'qf-b on every gateway');
    expect(loads.flatMap((l) => l.failures)).toEqual([]);
  }, 200_000);

  it('a bad edit: both roll it back and hold it rejected; every gateway is on the previous config', async () => {
    const ends = await editApart(yaml(`http://127.0.0.9:${await refusedPort()}`));
    const [a, b] = ends.map((x) => x.recent[0]!);
    expect(a!.outcome).toBe('rolled-back');
    expect(b!.outcome).toBe('rolled-back');
    expect(b!.id).toBe(a!.id);
    for (const x of ends) expect(x.rejected.map((r) => r.id)).toEqual([a!.id]);
    for (const g of gateways) await eventually(async () => (await backendOf(g)) === 'qf-b', 'qf-b again on every gateway');
  }, 200_000);
});
