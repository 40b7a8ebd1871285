/// <reference lib="dom" />
import type { Page } from 'playwright-core';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, type Browser } from './support/browser.js';
import { startCli, type Child } from './support/cli.js';
import { startDistributors, type Distributors } from './support/distributors.js';
import { startControlPlaneProcess, WatchedConfig, type ControlPlaneProcess } from './support/fleet.js';
import { startPacedLoad, type Load } from './support/load.js';
import { eventually } from './support/poll.js';
import { freePort } from './support/prometheus.js';
import type { ClientStatusResponseMessage } from '../control-plane/csds/csds-server.js';
import { csdsClient } from './support/csds-client.js';
import { packageVersion } from '../core/package-version.js';

// Three control-plane replicas (separate processes on 127.0.0.11-13, one HTTP port, found through a
// dns:/// name on a real DNS server, as a headless Service presents them) and six gateways spread over
// them under steady load to three httpgrpc distributors. Every replica's /nodes, CSDS, /load and
// dashboard (real Chromium) show the whole fleet alike; when one replica is SIGKILLed the others show
// its gateways reconnecting to them and name the peer that is gone; the rates shown agree with what
// the distributors counted, within 5 %.

const REPLICA_HOSTS = ['127.0.0.11', '127.0.0.12', '127.0.0.13'];
const GATEWAYS = ['gw-1', 'gw-2', 'gw-3', 'gw-4', 'gw-5', 'gw-6'];
const PEERS_NAME = 'cp-peers.test';
const PER_GATEWAY_RPS = 15;

interface PagedNode {
  nodeId: string;
  state: string;
  replica: string;
  userAgentVersion: string;
  sync: Record<string, string>;
  load: { rps: number } | null;
}
interface NodesAnswer {
  replica: string;
  summary: { connected: number; unknown: number; synced: number };
  nodes: PagedNode[];
  peers: { address: string; state: string }[];
}
interface LoadAnswer {
  windowSeconds: number;
  missing: string[];
  clusters: { name: string; lastMinute: { rps: number; issued: number } }[];
  nodes: { nodeId: string; rps: number; replica: string }[];
}

async function getJson<T>(url: string): Promise<T> {
  const res = await request(url);
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`GET ${url}: ${res.statusCode} ${text}`);
  return JSON.parse(text) as T;
}

describe('one fleet seen whole from every control-plane replica', () => {
  let cluster: Distributors;
  let config: WatchedConfig;
  let browser: Browser;
  const replicas: ControlPlaneProcess[] = [];
  const gateways: Child[] = [];
  const loads: Load[] = [];
  const pages: Page[] = [];
  /** Distributors' total request count, sampled every 500 ms: [ms, count]. */
  const counted: [number, number][] = [];
  let sampler: NodeJS.Timeout | undefined;
  let loadStartedAt = 0;
  let killed: ControlPlaneProcess | undefined;

  const live = (): ControlPlaneProcess[] => replicas.filter((r) => r !== killed);
  const nodesOf = (r: ControlPlaneProcess): Promise<NodesAnswer> => getJson<NodesAnswer>(`${r.child.url}/control-plane/api/v1/nodes?limit=100`);
  const loadOf = (r: ControlPlaneProcess): Promise<LoadAnswer> => getJson<LoadAnswer>(`${r.child.url}/control-plane/api/v1/load`);
  /** What the distributors counted per second over the last `seconds`, from the samples. */
  const distributorRate = (seconds: number): number => {
    const last = counted[counted.length - 1]!;
    const from = counted.find(([at]) => at >= last[0] - seconds * 1000)!;
    return ((last[1] - from[1]) * 1000) / (last[0] - from[0]);
  };

  beforeAll(async () => {
    cluster = await startDistributors(['127.0.0.2', '127.0.0.3', '127.0.0.4']);
    config = new WatchedConfig(`gateway:\n  proxy:\n    default: { url: "http://127.0.0.1:9" }\n    distributor: { url: "${cluster.url}" }\n`);
    const httpPort = await freePort();
    cluster.dns.setRecords(PEERS_NAME, REPLICA_HOSTS.map((address) => ({ type: 'A' as const, address, ttl: 1 })));
    for (const host of REPLICA_HOSTS) {
      replicas.push(
        await startControlPlaneProcess(config, 0, [
          `-server.http-listen-address=${host}`,
          `-server.http-listen-port=${httpPort}`,
          `-control-plane.peers=dns://${cluster.dns.authority}/${PEERS_NAME}:${httpPort}`,
          '-control-plane.load-reporting-interval=1s',
          '-control-plane.dns.lookup-period=1s',
        ]),
      );
    }
    // Two gateways per replica; each knows all three and fails over in order.
    for (const [i, id] of GATEWAYS.entries()) {
      const order = [0, 1, 2].map((k) => replicas[(i + k) % 3]!.xdsAddress);
      gateways.push(await startCli(['-target=gateway', `-gateway.xds.server-address=${order.join(',')}`, `-gateway.xds.node-id=${id}`, '-gateway.xds.cluster=edge'], {}, { keepOutput: 20_000 }));
    }
    loadStartedAt = Date.now();
    for (const g of gateways) loads.push(startPacedLoad(g.url, '/api/v1/push', PER_GATEWAY_RPS, 300_000));
    sampler = setInterval(() => counted.push([Date.now(), cluster.servers.reduce((a, s) => a + s.requestCount, 0)]), 500);
    browser = await launchBrowser();
    for (const r of replicas) {
      const p = pages.length === 0 ? browser.page : await browser.context.newPage();
      await p.goto(`${r.child.url}/control-plane/`);
      pages.push(p);
    }
  }, 180_000);

  afterAll(async () => {
    clearInterval(sampler);
    await Promise.all(loads.map((l) => l.stop()));
    await browser?.close();
    await Promise.all(gateways.map((g) => g.stop()));
    await Promise.all(replicas.map((r) => r.child.stop('SIGKILL')));
    await cluster?.close();
    config?.remove();
  });

  it('every replica lists all six gateways, connected and synced, each naming the replica that holds it', async () => {
    const answers = await eventually(
      async () => {
        const all = await Promise.all(replicas.map(nodesOf));
        const ok = all.every((a) => a.summary.connected === 6 && a.summary.synced === 6 && a.nodes.every((n) => n.load !== null && n.load.rps > 0));
        return ok ? all : undefined;
      },
      'six synced gateways with load on every replica',
      60_000,
      250,
    );
    const byReplica = (a: NodesAnswer): Record<string, string> => Object.fromEntries(a.nodes.map((n) => [n.nodeId, n.replica]));
    const first = answers[0]!;
    expect(first.nodes.map((n) => n.nodeId).sort()).toEqual(GATEWAYS);
    // Two gateways on each replica, named by the replica's address among its peers.
    const held = Object.values(byReplica(first));
    for (const host of REPLICA_HOSTS) expect(held.filter((r) => r.startsWith(`${host}:`))).toHaveLength(2);
    for (const a of answers) {
      expect(byReplica(a)).toEqual(byReplica(first));
      expect(a.nodes.map((n) => [n.nodeId, n.state, n.sync])).toEqual(first.nodes.map((n) => [n.nodeId, n.state, n.sync]));
      expect(a.peers.map((p) => p.state)).toEqual(['up', 'up']);
      expect(a.nodes.every((n) => n.userAgentVersion === packageVersion())).toBe(true);
    }
    expect(answers.map((a) => a.replica).sort()).toEqual(REPLICA_HOSTS.map((h) => `${h}:${replicas[0]!.child.port}`));
  }, 90_000);

  it('CSDS on every replica (Fetch and Stream) lists all six, every type SYNCED', async () => {
    for (const r of replicas) {
      const csds = csdsClient(r.xdsAddress);
      try {
        const fetched = await csds.fetch({});
        expect(fetched.config.map((c) => c.node.id).sort()).toEqual(GATEWAYS);
        expect(fetched.config.every((c) => c.generic_xds_configs.every((g) => g.config_status === 'SYNCED'))).toBe(true);
        const call = csds.stream();
        call.on('error', () => {});
        const streamed = new Promise<ClientStatusResponseMessage>((resolve) => call.once('data', resolve));
        call.write({ node_matchers: [{ node_id: { prefix: 'gw-' } }] });
        expect((await streamed).config.map((c) => c.node.id).sort()).toEqual(GATEWAYS);
        call.end();
      } finally {
        csds.close();
      }
    }
  }, 60_000);

  it("/load on every replica: the backend's rate is the sum of its six gateways' and what the distributors counted, within 5 %", async () => {
    // Load for a whole window first, so the window holds only steady load.
    await eventually(() => Date.now() - loadStartedAt > 65_000, 'a whole window of steady load', 120_000, 500);
    for (const r of replicas) {
      const l = await loadOf(r);
      expect(l.windowSeconds).toBe(60);
      expect(l.missing).toEqual([]);
      expect(new Set(l.nodes.map((n) => n.nodeId))).toEqual(new Set(GATEWAYS));
      const backend = l.clusters.find((c) => c.name === 'distributor')!.lastMinute.rps;
      const sumOfGateways = l.nodes.reduce((a, n) => a + n.rps, 0);
      expect(Math.abs(backend - sumOfGateways) / sumOfGateways).toBeLessThanOrEqual(0.05);
      const counted = distributorRate(l.windowSeconds);
      console.log(`fleet view ${r.child.url}: distributor ${backend.toFixed(1)} req/s, sum of gateways ${sumOfGateways.toFixed(1)}, distributors counted ${counted.toFixed(1)}`);
      expect(Math.abs(backend - counted) / counted, `backend ${backend} req/s, distributors ${counted} req/s`).toBeLessThanOrEqual(0.05);
    }
  }, 150_000);

  it("every replica's page shows the six gateways synced, and the backend's rate as the distributors counted it", async () => {
    for (const p of pages) {
      await p.waitForFunction(
        (ids) => ids.every((id) => document.querySelector(`tr[data-node="${id}"] td[data-type="Cluster"]`)?.getAttribute('data-state') === 'synced'),
        GATEWAYS,
        { timeout: 30_000, polling: 250 },
      );
      expect(await p.textContent('[data-count="connected"] b')).toBe('6');
      expect(await p.locator('#peers [data-peer-state="up"]').count()).toBe(2);
      const rps = Number(await p.getAttribute('[data-backend="distributor"] .backend-rps', 'data-rps', { timeout: 20_000 }));
      const counted = distributorRate(60);
      expect(Math.abs(rps - counted) / counted, `page ${rps} req/s, distributors ${counted} req/s`).toBeLessThanOrEqual(0.05);
    }
  }, 120_000);

  it('a replica that stops answering: its gateways are shown unknown (never zero) and the peer is named, in /nodes, CSDS and the page', async () => {
    // SIGSTOP: the process answers nothing, yet its gateways' streams stay open (they do not move).
    const frozen = replicas[2]!;
    const frozenName = `${REPLICA_HOSTS[2]}:${frozen.child.port}`;
    frozen.child.proc.kill('SIGSTOP');
    try {
      const others = replicas.slice(0, 2);
      const answers = await eventually(
        async () => {
          const all = await Promise.all(others.map(nodesOf));
          return all.every((a) => a.summary.unknown === 2 && a.summary.connected === 4 && a.peers.some((p) => p.address === frozenName && p.state === 'down')) ? all : undefined;
        },
        'the frozen replica named down and its two gateways unknown',
        30_000,
        250,
      );
      for (const a of answers) {
        const unknown = a.nodes.filter((n) => n.state === 'unknown');
        expect(unknown.every((n) => n.replica === frozenName && n.load === null && Object.values(n.sync).every((x) => x === 'unknown'))).toBe(true);
      }
      const l = await loadOf(others[0]!);
      expect(l.missing).toEqual([frozenName]);
      const csds = csdsClient(others[0]!.xdsAddress);
      try {
        const res = await csds.fetch({});
        expect(res.config).toHaveLength(6);
        expect(res.config.filter((c) => c.generic_xds_configs.every((g) => g.config_status === 'UNKNOWN'))).toHaveLength(2);
      } finally {
        csds.close();
      }
      const p = pages[0]!;
      await p.waitForSelector(`#peers [data-peer="${frozenName}"][data-peer-state="down"]`, { timeout: 20_000 });
      expect(await p.textContent('[data-count="unknown"] b')).toBe('2');
      expect(await p.locator('tr[data-node-state="unknown"]').count()).toBe(2);
    } finally {
      frozen.child.proc.kill('SIGCONT');
    }
    await eventually(async () => (await nodesOf(replicas[0]!)).summary.connected === 6, 'the thawed replica answering again', 30_000, 250);
    await pages[0]!.waitForSelector('#peers:not(.err)', { timeout: 20_000 });
  }, 120_000);

  it('a killed replica: the others show its gateways reconnected to them, name the peer gone, and their rates still add up', async () => {
    killed = replicas[0]!;
    const killedName = `${REPLICA_HOSTS[0]}:${killed.child.port}`;
    await pages[0]!.close();
    await killed.child.stop('SIGKILL');
    const answers = await eventually(
      async () => {
        const all = await Promise.all(live().map(nodesOf));
        const ok = all.every(
          (a) =>
            a.summary.connected === 6 &&
            a.summary.unknown === 0 &&
            a.nodes.every((n) => n.state !== 'connected' || n.replica !== killedName) &&
            a.peers.some((p) => p.address === killedName && p.state === 'down'),
        );
        return ok ? all : undefined;
      },
      'the killed replica named down and its gateways connected elsewhere',
      60_000,
      250,
    );
    for (const a of answers) {
      const connected = a.nodes.filter((n) => n.state === 'connected');
      expect(connected.map((n) => n.nodeId).sort()).toEqual(GATEWAYS);
      expect(connected.every((n) => n.replica !== killedName)).toBe(true);
    }
    for (const p of pages.slice(1)) {
      await p.waitForSelector(`#peers [data-peer="${killedName}"][data-peer-state="down"]`, { timeout: 20_000 });
      expect(await p.textContent('#peers')).toContain('not answering');
      await p.waitForFunction(
        ({ ids, gone }) => ids.every((id) => {
          const row = document.querySelector(`tr[data-node="${id}"][data-node-state="connected"]`);
          return row && row.getAttribute('data-replica') !== gone && row.querySelector('td[data-type="Cluster"]')?.getAttribute('data-state') === 'synced';
        }),
        { ids: GATEWAYS, gone: killedName },
        { timeout: 30_000, polling: 250 },
      );
    }
    // The moved gateways' load now reports to the survivors: after a fresh window the figures add up again.
    const killedAt = Date.now();
    await eventually(() => Date.now() - killedAt > 20_000, 'load reports on the new streams', 60_000, 500);
    for (const r of live()) {
      const l = await loadOf(r);
      expect(l.missing).toEqual([killedName]);
      const backend = l.clusters.find((c) => c.name === 'distributor')!.lastMinute.rps;
      const counted = distributorRate(60);
      expect(Math.abs(backend - counted) / counted, `backend ${backend} req/s, distributors ${counted} req/s`).toBeLessThanOrEqual(0.05);
    }
    for (const p of pages.slice(1)) {
      const rps = Number(await p.getAttribute('[data-backend="distributor"] .backend-rps', 'data-rps'));
      const counted = distributorRate(60);
      expect(Math.abs(rps - counted) / counted, `page ${rps} req/s, distributors ${counted} req/s`).toBeLessThanOrEqual(0.05);
    }
    expect(browser.errors).toEqual([]);
    // A gateway keeps serving while its control plane is gone.
    expect(loads.flatMap((l) => l.failures)).toEqual([]);
  }, 150_000);
});
