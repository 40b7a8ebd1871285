import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { routeTable } from '../core/routes.js';
import { encodeResource, type PlainMessage } from '../xds/protos.js';
import { TYPE_URL, type TypeUrl, type XdsResource } from '../xds/resource.js';
import { Snapshot } from '../control-plane/xds/snapshot.js';
import { backendsFrom, GATEWAY_LISTENER } from './support/fixtures.js';
import { appliedVersion, eventually, startGateway, type RunningGateway } from './support/gateway.js';
import { HttpBackend } from './support/http-backend.js';
import { requestsOf, snapshot, startControlPlane, translated, withEdited, type ControlPlane } from './support/xds-client-harness.js';

// A gateway fed by a raw control plane (SnapshotCache + AdsServer) that serves hand-made bad
// resources: bytes that do not decode, an Any of the wrong type, PGV violations, and a route the
// gateway cannot serve. Each is NACKed with its reason (seen on both ends), the gateway keeps
// serving its last good config, and the next good snapshot is applied.

const { cluster: CDS, listener: LDS, route: RDS } = TYPE_URL;

/** Serves whatever it holds: the cache's consistency check is what would stop these in production. */
class UncheckedSnapshot extends Snapshot {
  override consistent(): string[] {
    return [];
  }
}

describe('bad xDS resources sent to a gateway', () => {
  let cp: ControlPlane;
  let gw: RunningGateway;
  const backends: HttpBackend[] = [];
  let current = 0;

  /** A complete, valid config whose default backend is backends[i]. */
  const good = (i: number): XdsResource[] =>
    translated({ backends: backendsFrom({ default: backends[i]!.url }), routes: routeTable(), endpoints: new Map(), listener: GATEWAY_LISTENER });

  async function servedBy(): Promise<string> {
    const res = await request(`${gw.url}/prometheus/api/v1/query?query=up`);
    expect(res.statusCode).toBe(200);
    return res.headers['x-backend'] as string;
  }

  interface GatewayXds {
    readonly types: Record<string, { readonly nacks: number; readonly lastNack: { readonly message: string; readonly version: string } | null }>;
  }
  async function gatewayXds(): Promise<GatewayXds> {
    const res = await request(`${gw.url}/gateway/api/v1/config`);
    return ((await res.body.json()) as { xds: GatewayXds }).xds;
  }

  /** Publishes the next good config (the other backend) and waits until requests reach it. */
  async function publishGood(): Promise<void> {
    current = 1 - current;
    cp.cache.setSnapshot(snapshot(good(current)));
    await eventually(async () => (await servedBy()) === backends[current]!.name, `requests reaching ${backends[current]!.name}`, 5000, 20);
  }

  /**
   * Serves `bad`, then checks: the gateway NACKed `type` with exactly `reason` (in its own status and
   * in the request the control plane received), kept its version and backend, and takes the next
   * good config.
   */
  async function expectNack(bad: Snapshot, type: TypeUrl, reason: string): Promise<void> {
    const version = await appliedVersion(gw.url);
    const backend = await servedBy();
    const nacksBefore = (await gatewayXds()).types[type]!.nacks;
    cp.cache.setSnapshot(bad);
    const seen = await eventually(async () => {
      const t = (await gatewayXds()).types[type]!;
      return t.nacks > nacksBefore ? t.lastNack : undefined;
    }, `a NACK of ${type}`);
    expect(seen).toMatchObject({ message: reason, version: bad.version(type) });
    const sent = requestsOf(cp, type).filter((r) => r.error_detail !== null).at(-1);
    expect(sent?.error_detail).toMatchObject({ code: 3, message: reason }); // INVALID_ARGUMENT
    expect(sent?.version_info).not.toBe(bad.version(type)); // the last good version, not the refused one
    const node = cp.ads.nodes.nodes().find((n) => n.state === "connected");
    expect(node?.types[type]?.lastNack?.message).toBe(reason);
    // Still serving, unchanged.
    for (let i = 0; i < 5; i++) expect(await servedBy()).toBe(backend);
    expect(await appliedVersion(gw.url)).toBe(version);
    await publishGood();
    expect(await appliedVersion(gw.url)).not.toBe(version);
  }

  beforeAll(async () => {
    backends.push(await HttpBackend.start('a', '127.0.0.2'), await HttpBackend.start('b', '127.0.0.3'));
    cp = await startControlPlane();
    cp.cache.setSnapshot(snapshot(good(current)));
    gw = await startGateway([`-gateway.xds.server-address=${cp.address}`, '-gateway.xds.node-id=bad-input-xds']);
    await eventually(async () => (await appliedVersion(gw.url)) !== '', 'the first config');
    expect(await servedBy()).toBe('a');
  });
  // Each case starts from a freshly applied good config, whatever the previous one left.
  beforeEach(publishGood);
  afterAll(async () => {
    await gw?.stop();
    await cp?.stop();
    await Promise.all(backends.map((b) => b.close()));
  });

  /** The config being served, with the resource of that type and name replaced by `value` bytes. */
  function withBytes(type: TypeUrl, name: string, value: Uint8Array): Snapshot {
    const resources = good(current).map((r) => (r.typeUrl === type && r.name === name ? { ...r, value } : r));
    return snapshot(resources);
  }
  const indexOf = (type: TypeUrl, name: string): number => good(current).filter((r) => r.typeUrl === type).findIndex((r) => r.name === name);

  it('a Cluster whose bytes do not decode', async () => {
    // Field 1 (name), length-delimited, announcing 100 bytes that are not there.
    const i = indexOf(CDS, 'default');
    await expectNack(withBytes(CDS, 'default', Buffer.from([0x0a, 0x64, 0x61])), CDS, `Cluster resources[${i}]: cannot decode: index out of range: 2 + 100 > 3`);
  });

  it('a Listener truncated inside its name', async () => {
    // Protobufjs's Node reader would have cut the name short and decoded a listener named "".
    await expectNack(withBytes(LDS, 'metrics-gateway', Buffer.from([0x0a, 0x0f, 0x6d, 0x65, 0x74])), LDS, 'Listener resources[0]: cannot decode: index out of range: 2 + 15 > 5');
  });

  it('a Listener with a wire type that does not exist', async () => {
    // Field 1000, wire type 7.
    await expectNack(withBytes(LDS, 'metrics-gateway', Buffer.from([0xc7, 0x3e, 0x01])), LDS, 'Listener resources[0]: cannot decode: invalid wire type 7 at offset 2');
  });

  it('an Any of the wrong type inside a CDS response', async () => {
    const resources = good(current);
    const listener = resources.find((r) => r.typeUrl === LDS)!;
    // A Listener among the Clusters: the snapshot's own check would refuse it, this one does not.
    const byType: Partial<Record<TypeUrl, { resources: XdsResource[] }>> = {};
    for (const r of resources) (byType[r.typeUrl] ??= { resources: [] }).resources.push(r);
    byType[CDS]!.resources.push({ ...listener, name: 'not-a-cluster' });
    const bad = new UncheckedSnapshot(byType);
    const i = byType[CDS]!.resources.length - 1;
    await expectNack(bad, CDS, `Cluster resources[${i}]: type_url "${LDS}" does not match the response type_url`);
  });

  it('a Cluster that breaks a PGV rule: a negative connect_timeout', async () => {
    const bad = withEdited(good(current), CDS, 'ruler', (cl) => ({ ...cl, connect_timeout: { seconds: '-1', nanos: 0 } }));
    await expectNack(snapshot(bad), CDS, 'Cluster "ruler": connect_timeout: value must be greater than 0s, got -1s (duration.gt)');
  });

  it('a RouteConfiguration that breaks a PGV rule: a virtual host with no domains', async () => {
    const bad = withEdited(good(current), RDS, 'metrics-gateway', (rc) => {
      const vhosts = (rc as { virtual_hosts: PlainMessage[] }).virtual_hosts;
      return { ...rc, virtual_hosts: [{ ...vhosts[0]!, domains: [] }, ...vhosts.slice(1)] };
    });
    await expectNack(snapshot(bad), RDS, 'RouteConfiguration "metrics-gateway": virtual_hosts[0].domains: value must contain at least 1 item(s) (repeated.min_items)');
  });

  it('a route the gateway cannot serve: it names a cluster that does not exist', async () => {
    const resources = withEdited(good(current), RDS, 'metrics-gateway', (rc) => {
      const r = rc as { virtual_hosts: { routes: { name: string; route?: { cluster: string } }[] }[] };
      const route = r.virtual_hosts[0]!.routes.find((x) => x.route?.cluster === 'ruler')!;
      route.route!.cluster = 'no-such-cluster';
      return rc;
    });
    // Consistent as far as the cache can tell (refs are declared by translation, not decoded).
    await expectNack(
      snapshot(resources),
      RDS,
      'RouteConfiguration "metrics-gateway": route "prefix:/prometheus/config/v1/rules": names cluster "no-such-cluster", which is not known',
    );
  });

  it('a Cluster whose bytes are valid protobuf of another message', async () => {
    // A RouteConfiguration encoded where a Cluster belongs: field 1 lines up (a name), the rest does not.
    const asCluster = encodeResource(RDS, { name: 'ruler', virtual_hosts: [{ name: 'all', domains: ['*'], routes: [] }] });
    const i = indexOf(CDS, 'ruler');
    await expectNack(withBytes(CDS, 'ruler', asCluster), CDS, `Cluster resources[${i}]: cannot decode: index out of range: 17 + 1 > 17`);
  });
});
