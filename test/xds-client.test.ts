import { afterEach, describe, expect, it } from 'vitest';
import { TYPE_URL, type TypeUrl } from '../xds/resource.js';
import type { PlainMessage } from '../xds/protos.js';
import type { AcceptedResources, XdsClient } from '../data-plane/xds/ads-client.js';
import { eventually, metricValue } from './support/ads-client.js';
import { endpointMap, endpoints, partialInput, realisticInput, DISTRIBUTOR_URL, backendsFrom } from './support/fixtures.js';
import {
  newClient, requestsOf, snapshot, startControlPlane, translated, withEdited, type ClientUnderTest, type ControlPlane,
} from './support/xds-client-harness.js';

// The gateway's ADS client against the real control plane (SnapshotCache + AdsServer) on
// loopback, with the resources translate.ts produces (envoy xds_protocol.rst rules).

const LDS = TYPE_URL.listener;
const RDS = TYPE_URL.route;
const CDS = TYPE_URL.cluster;
const EDS = TYPE_URL.endpoint;

const planes: ControlPlane[] = [];
const clients: XdsClient[] = [];

async function controlPlane(host?: string, port?: number): Promise<ControlPlane> {
  const cp = await startControlPlane(host, port);
  planes.push(cp);
  return cp;
}

function client(servers: string[], extra?: Parameters<typeof newClient>[1]): ClientUnderTest {
  const c = newClient(servers, extra);
  clients.push(c.client);
  return c;
}

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.stop()));
  await Promise.all(planes.splice(0).map((p) => p.stop()));
});

/** Waits until every type's accepted version equals the snapshot the control plane serves. */
async function converged(cp: ControlPlane, c: XdsClient, what = 'client to accept the served snapshot'): Promise<void> {
  const served = cp.cache.getSnapshot();
  if (!served) throw new Error('no snapshot served');
  await eventually(() => [LDS, RDS, CDS, EDS].every((t) => c.accepted.versions[t] === served.version(t)), 5000, what);
}

function nodeTypes(cp: ControlPlane, id = 'gateway-test-1') {
  const node = cp.ads.nodes.nodes().find((n) => n.nodeId === id && n.state === 'connected');
  return node?.types ?? {};
}

const addresses = (a: AcceptedResources, name: string): string[] =>
  (a.endpoints.get(name)?.endpoints ?? []).flatMap((l) =>
    (l.lb_endpoints ?? []).map((e) => `${e.endpoint?.address?.socket_address?.address}:${e.endpoint?.address?.socket_address?.port_value}`),
  );

describe('XdsClient (state of the world ADS)', () => {
  it('follows LDS → RDS and CDS → EDS to the full gateway config, ACKs everything and reports it', async () => {
    const cp = await controlPlane();
    cp.cache.setSnapshot(snapshot(translated()));
    const { client: c, registry, updates } = client([cp.address]);
    c.start();
    await converged(cp, c);

    const a = c.accepted;
    expect([...a.listeners.keys()]).toEqual(['metrics-gateway']); // not the 'distributor' api_listener
    expect([...a.routes.keys()]).toEqual(['metrics-gateway']);
    expect([...a.clusters.keys()].sort()).toEqual([
      'admin_api', 'alertmanager', 'compactor', 'default', 'distributor', 'graphite', 'ingester', 'query_frontend',
      'ruler', 'store_gateway',
    ]);
    expect(addresses(a, 'distributor')).toEqual(['10.0.0.1:9095', '10.0.0.2:9095', '10.0.0.3:9095']);
    const push = a.routes.get('metrics-gateway')?.virtual_hosts?.[0]?.routes?.find((r) => r.match?.path === '/api/v1/push');
    expect(push?.route?.cluster).toBe('distributor');
    // One onUpdate per type that brought something, and the last one holds everything.
    expect(new Set(updates.map((u) => u.type))).toEqual(new Set([LDS, RDS, CDS, EDS]));
    expect(updates.at(-1)?.accepted).toBe(c.accepted);

    // Subscriptions as gRPC's xDS client makes them.
    expect(requestsOf(cp, LDS)[0]?.resource_names).toEqual(['metrics-gateway']);
    expect(requestsOf(cp, CDS)[0]?.resource_names).toEqual([]);
    expect(requestsOf(cp, RDS)[0]?.resource_names).toEqual(['metrics-gateway']);
    expect(requestsOf(cp, EDS)[0]?.resource_names).toEqual(['distributor']);

    // The control plane sees the node and an ACK of every type.
    const served = cp.cache.getSnapshot()!;
    await eventually(() => [LDS, RDS, CDS, EDS].every((t) => nodeTypes(cp)[t]?.ackedVersion === served.version(t)), 2000, 'ACKs');
    const node = cp.ads.nodes.nodes().find((n) => n.nodeId === 'gateway-test-1');
    expect(node).toMatchObject({ cluster: 'gateways', userAgent: 'metrics-gateway/0.1.0-test', metadata: { zone: 'zone-a', replicas: 3, canary: false } });

    expect(await metricValue(registry, 'metrics_gateway_xds_connected', { server: cp.address })).toBe(1);
    expect(await metricValue(registry, 'metrics_gateway_xds_acks_total', { type: 'cds' })).toBe(1);
    expect(await metricValue(registry, 'metrics_gateway_xds_applied_version_info', { type: 'lds', version: served.version(LDS) })).toBe(1);
    expect(await metricValue(registry, 'metrics_gateway_xds_last_update_timestamp_seconds', { type: 'eds' })).toBeGreaterThan(0);
    const st = c.status();
    expect(st).toMatchObject({ state: 'connected', connected: true, server: cp.address, lastError: null });
    expect(st.types[CDS]).toMatchObject({ subscribed: '*', resources: 10, acks: 1, nacks: 0, lastNack: null });
    expect(st.types[EDS]).toMatchObject({ subscribed: ['distributor'], version: served.version(EDS) });
  });

  it('applies a new snapshot, follows a cluster that stops being EDS, and leaves unchanged resources alone', async () => {
    const cp = await controlPlane();
    cp.cache.setSnapshot(snapshot(translated()));
    const { client: c, updates } = client([cp.address]);
    c.start();
    await converged(cp, c);
    const before = c.accepted;

    // DNS found a fourth distributor replica: only EDS changes.
    const moreEndpoints = endpointMap([[DISTRIBUTOR_URL, endpoints('10.0.0.1:9095', '10.0.0.2:9095', '10.0.0.3:9095', '10.0.0.4:9095')]]);
    cp.cache.setSnapshot(snapshot(translated(realisticInput({ endpoints: moreEndpoints }))));
    const n = updates.length;
    await converged(cp, c, 'new endpoints');
    expect(updates.slice(n).map((u) => u.type)).toEqual([EDS]);
    expect(addresses(c.accepted, 'distributor')).toContain('10.0.0.4:9095');
    expect(c.accepted.clusters).toBe(before.clusters);
    expect(c.accepted.routes).toBe(before.routes);

    // The distributor moves to plain HTTP: no EDS cluster is left, so EDS is unsubscribed and its
    // endpoint set dropped with the same CDS update.
    const m = updates.length;
    const httpOnly = realisticInput({
      backends: backendsFrom({ distributor: 'http://distributor.mimir.svc:8080', default: 'http://mimir.mimir.svc:8080' }),
    });
    cp.cache.setSnapshot(snapshot(translated(httpOnly)));
    await eventually(() => c.accepted.clusters.get('distributor')?.type === 'LOGICAL_DNS', 5000, 'distributor over http');
    await eventually(() => requestsOf(cp, EDS).at(-1)?.resource_names.length === 0, 2000, 'EDS unsubscribe');
    expect(c.accepted.endpoints.size).toBe(0);
    expect(updates.slice(m).map((u) => u.type)).toContain(CDS);
    expect(c.status().types[EDS].subscribed).toEqual([]);
  });

  it('NACKs a PGV-invalid resource with the precise reason, keeps the old config, and takes the next good one', async () => {
    const cp = await controlPlane();
    const good = translated();
    cp.cache.setSnapshot(snapshot(good));
    const { client: c, registry, updates } = client([cp.address]);
    c.start();
    await converged(cp, c);
    const before = c.accepted;
    const edsVersion = before.versions[EDS];
    const n = updates.length;

    const bad = withEdited(good, EDS, 'distributor', (cla) => {
      const e = cla as { endpoints: { lb_endpoints: { endpoint: { address: { socket_address: { port_value: number } } } }[] }[] };
      e.endpoints[0]!.lb_endpoints[0]!.endpoint.address.socket_address.port_value = 70000;
      return cla;
    });
    cp.cache.setSnapshot(snapshot(bad));
    const reason =
      'ClusterLoadAssignment "distributor": endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value: ' +
      'value must be less than or equal to 65535, got 70000 (uint32.lte)';
    await eventually(() => nodeTypes(cp)[EDS]?.lastNack != null, 5000, 'NACK at the control plane');
    expect(nodeTypes(cp)[EDS]?.lastNack).toMatchObject({ message: reason, version: cp.cache.getSnapshot()!.version(EDS) });

    // The request itself: previous good version, the rejected nonce, INVALID_ARGUMENT.
    const nack = requestsOf(cp, EDS).find((r) => r.error_detail);
    expect(nack).toMatchObject({ version_info: edsVersion, resource_names: ['distributor'], error_detail: { code: 3, message: reason } });
    expect(nack?.response_nonce).not.toBe('');

    expect(c.accepted.endpoints).toBe(before.endpoints);
    expect(c.accepted.versions[EDS]).toBe(edsVersion);
    expect(updates.length).toBe(n);
    expect(await metricValue(registry, 'metrics_gateway_xds_nacks_total', { type: 'eds' })).toBe(1);
    expect(c.status().types[EDS].lastNack).toMatchObject({ message: reason, version: cp.cache.getSnapshot()!.version(EDS) });

    // A Cluster with a zero connect_timeout: the message names resource and field.
    cp.cache.setSnapshot(snapshot(withEdited(good, CDS, 'distributor', (cl) => ({ ...cl, connect_timeout: {} }))));
    await eventually(() => (nodeTypes(cp)[CDS]?.lastNack?.message ?? '').startsWith('Cluster "distributor": connect_timeout: '), 5000, 'CDS NACK');
    expect(c.accepted.clusters).toBe(before.clusters);

    // A fixed config goes through.
    const fixed = endpointMap([[DISTRIBUTOR_URL, endpoints('10.0.0.9:9095')]]);
    cp.cache.setSnapshot(snapshot(translated(realisticInput({ endpoints: fixed }))));
    await converged(cp, c, 'the fixed snapshot');
    expect(addresses(c.accepted, 'distributor')).toEqual(['10.0.0.9:9095']);
  });

  it('NACKs a response its check() refuses: routes naming a cluster that was itself NACKed', async () => {
    const cp = await controlPlane();
    const start = translated(partialInput()); // distributor + ruler; alertmanager routes answer 503
    cp.cache.setSnapshot(snapshot(start));
    const check = (typeUrl: TypeUrl, resources: ReadonlyMap<string, unknown>, accepted: AcceptedResources): string[] => {
      if (typeUrl !== RDS) return [];
      const problems: string[] = [];
      for (const [name, rc] of resources as ReadonlyMap<string, PlainMessage>) {
        const vhosts = (rc as { virtual_hosts?: { routes?: { name?: string; route?: { cluster?: string } }[] }[] }).virtual_hosts ?? [];
        for (const r of vhosts.flatMap((v) => v.routes ?? [])) {
          const cl = r.route?.cluster;
          if (cl && !accepted.clusters.has(cl)) problems.push(`RouteConfiguration "${name}": route "${r.name}" names cluster "${cl}" that is not accepted`);
        }
      }
      return problems;
    };
    const { client: c, registry } = client([cp.address], { check });
    c.start();
    await converged(cp, c);
    const routesBefore = c.accepted.routes;

    // alertmanager is added, but its cluster is invalid: CDS is NACKed, so the routes now naming
    // it must not be applied either.
    const more = partialInput();
    const withAm = translated({ ...more, backends: backendsFrom({ distributor: DISTRIBUTOR_URL, ruler: 'http://ruler.mimir.svc:8080', alertmanager: 'http://am.mimir.svc:8080' }) });
    cp.cache.setSnapshot(snapshot(withEdited(withAm, CDS, 'alertmanager', (cl) => ({ ...cl, connect_timeout: {} }))));
    await eventually(() => nodeTypes(cp)[RDS]?.lastNack != null, 5000, 'RDS NACK');
    expect(nodeTypes(cp)[CDS]?.lastNack?.message).toMatch(/^Cluster "alertmanager": connect_timeout: /);
    expect(nodeTypes(cp)[RDS]?.lastNack?.message).toContain(
      'RouteConfiguration "metrics-gateway": route "prefix:/alertmanager" names cluster "alertmanager" that is not accepted',
    );
    expect(c.accepted.routes).toBe(routesBefore);
    expect(c.accepted.clusters.has('alertmanager')).toBe(false);
    expect(await metricValue(registry, 'metrics_gateway_xds_nacks_total', { type: 'rds' })).toBe(1);
  });

  it('keeps the config while the control plane is away, reconnects with backoff and resumes without re-applying', async () => {
    const cp = await controlPlane();
    cp.cache.setSnapshot(snapshot(translated()));
    const { client: c, registry, updates } = client([cp.address]);
    c.start();
    await converged(cp, c);
    const before = c.accepted;
    const n = updates.length;
    const acked = before.versions;

    await cp.stop();
    await eventually(() => c.status().state !== 'connected', 2000, 'disconnect noticed');
    expect(await metricValue(registry, 'metrics_gateway_xds_connected', { server: cp.address })).toBe(0);
    expect(c.status().lastError?.message).toMatch(/UNAVAILABLE|CANCELLED|INTERNAL/);
    expect(c.accepted).toBe(before); // the last good config stays
    const seen = cp.requests.length;

    await cp.restart();
    await eventually(() => c.status().connected, 5000, 'reconnect');
    // Resume: each type's first request on the new stream carries the last ACKed version, no nonce.
    await eventually(() => new Set(cp.requests.slice(seen).map((r) => r.type_url)).size === 4, 5000, 'all four subscriptions');
    const firsts = new Map<string, (typeof cp.requests)[number]>();
    for (const r of cp.requests.slice(seen)) if (!firsts.has(r.type_url)) firsts.set(r.type_url, r);
    for (const t of [LDS, RDS, CDS, EDS]) {
      expect(firsts.get(t), t).toMatchObject({ version_info: acked[t], response_nonce: '' });
    }
    expect(cp.requests[seen]?.node?.id).toBe('gateway-test-1');

    // The server resends everything on the new stream: ACKed again, not applied again.
    await eventually(() => [LDS, RDS, CDS, EDS].every((t) => nodeTypes(cp)[t]?.ackedVersion === acked[t]), 5000, 're-ACKs');
    expect(updates.length).toBe(n);
    expect(c.accepted.listeners).toBe(before.listeners);
    expect(c.accepted.clusters).toBe(before.clusters);
    expect(await metricValue(registry, 'metrics_gateway_xds_acks_total', { type: 'cds' })).toBe(2);
    expect(await metricValue(registry, 'metrics_gateway_xds_reconnects_total', { server: cp.address })).toBeGreaterThanOrEqual(1);

    // And a real change after the reconnect is applied.
    cp.cache.setSnapshot(snapshot(translated(realisticInput({ endpoints: endpointMap([[DISTRIBUTOR_URL, endpoints('10.0.0.7:9095')]]) }))));
    await converged(cp, c, 'post-reconnect update');
    expect(addresses(c.accepted, 'distributor')).toEqual(['10.0.0.7:9095']);
  });

  it('fails over from a dead first server to a live second one', async () => {
    const dead = await controlPlane('127.0.0.2');
    await dead.stop(); // its port now refuses connections
    const live = await controlPlane('127.0.0.3');
    live.cache.setSnapshot(snapshot(translated()));
    const { client: c, registry } = client([dead.address, live.address]);
    c.start();
    await converged(live, c);
    expect(c.status()).toMatchObject({ connected: true, server: live.address });
    expect(c.status().lastError?.server).toBe(dead.address);
    expect(await metricValue(registry, 'metrics_gateway_xds_connected', { server: live.address })).toBe(1);
    expect(await metricValue(registry, 'metrics_gateway_xds_connected', { server: dead.address })).toBe(0);
    expect(await metricValue(registry, 'metrics_gateway_xds_reconnects_total', { server: live.address })).toBe(1);
  });

  it('stop() ends the stream and the reconnect timer; nothing comes back', async () => {
    const cp = await controlPlane();
    cp.cache.setSnapshot(snapshot(translated()));
    const { client: c, registry } = client([cp.address]);
    c.start();
    await converged(cp, c);
    expect(cp.ads.openStreams()).toBe(1);
    await c.stop();
    await eventually(() => cp.ads.openStreams() === 0 && cp.cache.watchCount() === 0, 2000, 'server side closed');
    expect(c.status().state).toBe('stopped');
    expect(await metricValue(registry, 'metrics_gateway_xds_connected', { server: cp.address })).toBe(0);
    expect(c.accepted.clusters.size).toBe(10); // stopping does not forget the config

    // Stopped while waiting to reconnect: the pending attempt is cancelled.
    c.start();
    await eventually(() => cp.ads.openStreams() === 1, 2000, 'restarted stream');
    await cp.stop();
    await eventually(() => c.status().state === 'backoff', 2000, 'backoff');
    await c.stop();
    await cp.restart();
    const requests = cp.requests.length;
    // Longer than several maximum backoffs (100 ms): a leftover timer would have reconnected.
    await new Promise((r) => setTimeout(r, 400));
    expect(cp.ads.openStreams()).toBe(0);
    expect(cp.requests.length).toBe(requests);
  });
});
