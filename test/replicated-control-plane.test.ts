// Two control-plane replicas (separate processes, each on its own HTTP and gRPC port) on one config
// file and one DNS server, and a gateway process told about both. The replicas publish identical
// versions; when the one the gateway streams from is SIGKILLed under load, the gateway moves to the
// other, re-applies nothing (the versions are the same) and no request fails.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import type { Child } from './support/cli.js';
import { startDistributors, type Distributors } from './support/distributors.js';
import { startControlPlaneProcess, startGatewayProcess, upstreamOf, WatchedConfig, type ControlPlaneProcess } from './support/fleet.js';
import { HttpBackend } from './support/http-backend.js';
import { startLoad } from './support/load.js';
import { eventually } from './support/poll.js';
import { freePort, metricSum, parseExposition, type Exposition } from './support/prometheus.js';

interface SnapshotView {
  readonly versions: Record<string, string>;
  readonly resources: Record<string, Array<{ name: string; resource: unknown }>>;
}

const HOSTS = ['127.0.0.2', '127.0.0.3', '127.0.0.4'];

async function snapshotOf(cp: ControlPlaneProcess): Promise<SnapshotView> {
  const res = await request(`${cp.child.url}/control-plane/api/v1/snapshot`);
  return (await res.body.json()) as SnapshotView;
}

async function scrape(url: string): Promise<Exposition> {
  return parseExposition(await (await request(`${url}/metrics`)).body.text());
}

/** The label sets of `name` with value 1, as text: a replica's or gateway's versions. */
const versionLabels = (m: Exposition, name: string): string[] => (m.get(name) ?? []).filter((s) => s.value === 1).map((s) => s.labels).sort();

describe('a replicated control plane', () => {
  let distributors: Distributors;
  let queryFrontend: HttpBackend;
  let config: WatchedConfig;
  const replicas: ControlPlaneProcess[] = [];
  let gateway: Child;

  const yaml = (timeout: string): string =>
    `gateway:\n  proxy:\n    distributor: { url: "${distributors.url}" }\n    query_frontend: { url: "${queryFrontend.url}", timeout: ${timeout} }\n`;

  beforeAll(async () => {
    distributors = await startDistributors(HOSTS);
    queryFrontend = await HttpBackend.start('qf', '127.0.0.6');
    config = new WatchedConfig(yaml('30s'));
    // Different ports (their own -server.http-listen-port and gRPC port), same config and DNS. The
    // HTTP ports are explicit: port 0 would be the same "0" in both replicas' flags.
    for (let i = 0; i < 2; i++) {
      const httpPort = await freePort();
      replicas.push(await startControlPlaneProcess(config, 0, ['-control-plane.dns.lookup-period=1s', `-server.http-listen-port=${httpPort}`]));
    }
  });
  afterAll(async () => {
    await gateway?.stop('SIGKILL');
    await Promise.all(replicas.map((r) => r.child.stop('SIGKILL')));
    await distributors?.close();
    await queryFrontend?.close();
    config?.remove();
  });

  it('publishes identical versions and resources from every replica', async () => {
    const [a, b] = replicas as [ControlPlaneProcess, ControlPlaneProcess];
    expect(a.child.port).not.toBe(b.child.port);
    // Both have the three distributors from DNS (each polls on its own clock, so wait for both).
    const [sa, sb] = await eventually(
      async () => {
        const [sa, sb] = await Promise.all([snapshotOf(a), snapshotOf(b)]);
        const eds = (s: SnapshotView): number => JSON.stringify(s.resources['ClusterLoadAssignment']).split('port_value').length - 1;
        return eds(sa) === HOSTS.length && eds(sb) === HOSTS.length ? ([sa, sb] as const) : undefined;
      },
      'both replicas to publish the three distributors',
      20_000,
      100,
    );
    expect(sb.versions).toEqual(sa.versions);
    expect(sb.resources).toEqual(sa.resources);
    // And say so in their metrics, which the fleet dashboard compares with every gateway's.
    const [ma, mb] = await Promise.all([scrape(a.child.url), scrape(b.child.url)]);
    expect(versionLabels(mb, 'control_plane_snapshot_version_info')).toEqual(versionLabels(ma, 'control_plane_snapshot_version_info'));
    expect(versionLabels(ma, 'control_plane_snapshot_version_info')).toHaveLength(4);
  });

  it('moves a gateway to the other replica when its replica is killed under load: nothing re-applied, no request failed', async () => {
    const [a, b] = replicas as [ControlPlaneProcess, ControlPlaneProcess];
    gateway = await startGatewayProcess(`${a.xdsAddress},${b.xdsAddress}`, ['-gateway.xds.node-id=gw-failover']);
    await eventually(async () => (await upstreamOf(gateway.url, 'distributor'))?.endpoints?.filter((e) => e.state === 'READY').length === HOSTS.length, 'three READY distributors', 20_000, 50);
    const before = await scrape(gateway.url);
    expect(metricSum(before, 'metrics_gateway_xds_connected', `server="${a.xdsAddress}"`)).toBe(1);
    const appliedBefore = versionLabels(before, 'metrics_gateway_xds_applied_version_info');
    const updatedBefore = before.get('metrics_gateway_xds_last_update_timestamp_seconds');
    const appliedLogLines = (): number => gateway.output().split('msg="gateway config applied"').length - 1;
    const appliedCount = appliedLogLines();

    const load = startLoad(
      gateway.url,
      [
        { path: '/api/v1/push', method: 'POST', body: 'sample' },
        { path: '/prometheus/api/v1/query?query=up', method: 'GET' },
      ],
      { concurrency: 4, maxMs: 90_000, maxRequests: 100_000 },
    );
    let sentAtKill = 0;
    try {
      await eventually(() => load.sent() >= 200, 'load flowing before the kill', 20_000, 20);
      sentAtKill = load.sent();
      await a.child.stop('SIGKILL');
      await eventually(
        async () => metricSum(await scrape(gateway.url), 'metrics_gateway_xds_connected', `server="${b.xdsAddress}"`) === 1,
        'the gateway to stream from the other replica',
        40_000,
        50,
      );
      // Traffic after the move too, then a change through the surviving replica, still under load.
      await eventually(() => load.sent() >= sentAtKill + 200, 'load flowing after the move', 20_000, 20);
      // It gets (and ACKs) the state of the world again from the new replica: the stream counts as
      // connected before those answers arrive, so wait for the ACKs, then check that they changed nothing.
      const acksBefore = metricSum(before, 'metrics_gateway_xds_acks_total')!;
      const after = await eventually(
        async () => {
          const m = await scrape(gateway.url);
          return metricSum(m, 'metrics_gateway_xds_acks_total')! > acksBefore ? m : undefined;
        },
        'ACKs of the new replica\'s answers',
        20_000,
        50,
      );
      // Same versions, and no ACK after the move changed anything: every type's last-update time and
      // the number of applied configs are as before the kill.
      expect(versionLabels(after, 'metrics_gateway_xds_applied_version_info')).toEqual(appliedBefore);
      expect(after.get('metrics_gateway_xds_last_update_timestamp_seconds')).toEqual(updatedBefore);
      expect(appliedLogLines()).toBe(appliedCount);
      expect(metricSum(after, 'metrics_gateway_xds_reconnects_total', `server="${b.xdsAddress}"`)).toBeGreaterThanOrEqual(1);

      config.replaceAtomically(yaml('45s'));
      await eventually(async () => (await upstreamOf(gateway.url, 'query_frontend'))?.timeout_ms === 45_000, 'the edit, published by the surviving replica', 20_000, 50);
    } finally {
      await load.stop();
    }
    const summary = `${load.sent()} requests (${sentAtKill} before the kill), failures: ${load.failures.slice(0, 5).join('; ')}`;
    expect(load.failures, summary).toEqual([]);
    expect(load.sent(), summary).toBeGreaterThanOrEqual(sentAtKill + 200);
    console.log(`replicated control plane failover: ${summary}`);
  });
});
