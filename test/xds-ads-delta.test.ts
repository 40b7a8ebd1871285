import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TYPE_URL } from '../xds/resource.js';
import { deltaContents, eventually, metricValue, startAds, type AdsHarness, type DeltaTestStream } from './support/ads-client.js';
import { cluster, endpoints, snapshotOf } from './support/xds-fixtures.js';

// DeltaAggregatedResources against a real gRPC server on loopback
// (envoy docs/root/api-docs/xds_protocol.rst, "Incremental xDS").

const CDS = TYPE_URL.cluster;
const EDS = TYPE_URL.endpoint;

let h: AdsHarness;
let d: DeltaTestStream;

beforeEach(async () => {
  h = await startAds();
  d = h.client.delta();
});

afterEach(async () => {
  d.cancel();
  await h.close();
});

const watches = (n: number) => eventually(() => h.cache.watchCount() === n, 2000, `${n} open watches`);

describe('ADS delta (incremental)', () => {
  it('sends subscribed resources with per-resource versions and reports missing ones as removed', async () => {
    h.cache.setSnapshot(snapshotOf(endpoints('a'), endpoints('b'), endpoints('c')));
    d.send({ type_url: EDS, resource_names_subscribe: ['a', 'b', 'nope'] });
    const r = await d.next();
    expect(r.type_url).toBe(EDS);
    expect(deltaContents(r).sort()).toEqual(['a|v1', 'b|v1']);
    expect(r.resources.every((x) => x.version !== '')).toBe(true);
    expect(r.removed_resources).toEqual(['nope']);
    expect(r.system_version_info).not.toBe('');
  });

  it('treats a first empty LDS/CDS request as wildcard and sends only what changed', async () => {
    h.cache.setSnapshot(snapshotOf(cluster('c1'), cluster('c2'), cluster('c3')));
    d.send({ type_url: CDS });
    const r1 = await d.next();
    expect(deltaContents(r1).sort()).toEqual(['c1|v1', 'c2|v1', 'c3|v1']);
    d.ack(r1);
    await watches(1);

    h.cache.setSnapshot(snapshotOf(cluster('c1', 'v2'), cluster('c2'), cluster('c4')));
    const r2 = await d.next();
    expect(deltaContents(r2).sort()).toEqual(['c1|v2', 'c4|v1']);
    expect(r2.removed_resources).toEqual(['c3']);
  });

  it('stops sending a resource after it is unsubscribed', async () => {
    h.cache.setSnapshot(snapshotOf(endpoints('a'), endpoints('b')));
    d.send({ type_url: EDS, resource_names_subscribe: ['a', 'b'] });
    const r1 = await d.next();
    d.ack(r1);
    await watches(1);
    // An unsubscription alone needs no answer (xds_protocol.rst, "Unsubscribing from Resources").
    d.send({ type_url: EDS, resource_names_unsubscribe: ['b'] });
    await eventually(() => h.ads.nodes.toJSON().nodes[0]?.requests === 3, 2000, 'unsubscribe processed');

    h.cache.setSnapshot(snapshotOf(endpoints('a'), endpoints('b', 'v2')));
    h.cache.setSnapshot(snapshotOf(endpoints('a', 'v3'), endpoints('b', 'v3')));
    const r2 = await d.next();
    expect(deltaContents(r2)).toEqual(['a|v3']);
    expect(r2.removed_resources).toEqual([]);
  });

  it('reports a subscribed resource removed from the snapshot, and sends it when it comes back', async () => {
    h.cache.setSnapshot(snapshotOf(endpoints('a'), endpoints('b')));
    d.send({ type_url: EDS, resource_names_subscribe: ['a'] });
    d.ack(await d.next());
    await watches(1);

    h.cache.setSnapshot(snapshotOf(endpoints('b')));
    const gone = await d.next();
    expect(gone.resources).toEqual([]);
    expect(gone.removed_resources).toEqual(['a']);
    d.ack(gone);
    await watches(1);

    h.cache.setSnapshot(snapshotOf(endpoints('a', 'back'), endpoints('b')));
    const back = await d.next();
    expect(deltaContents(back)).toEqual(['a|back']);
    expect(back.removed_resources).toEqual([]);
  });

  it('resumes with initial_resource_versions without re-sending unchanged resources', async () => {
    h.cache.setSnapshot(snapshotOf(endpoints('a'), endpoints('b'), cluster('c1'), cluster('c2')));
    d.send({ type_url: EDS, resource_names_subscribe: ['a', 'b'] });
    const eds = await d.next();
    d.send({ type_url: CDS });
    const cds = await d.next();
    const versions = (r: typeof eds) => Object.fromEntries(r.resources.map((x) => [x.name, x.version]));
    const edsVersions = versions(eds);
    const cdsVersions = versions(cds);
    d.cancel();
    await eventually(() => h.ads.openStreams() === 0);

    // While the client was away, b and c2 changed.
    h.cache.setSnapshot(snapshotOf(endpoints('a'), endpoints('b', 'v2'), cluster('c1'), cluster('c2', 'v2')));
    d = h.client.delta();
    d.send({ type_url: EDS, resource_names_subscribe: ['a', 'b'], initial_resource_versions: edsVersions });
    const eds2 = await d.next();
    expect(deltaContents(eds2)).toEqual(['b|v2']);
    d.send({ type_url: CDS, initial_resource_versions: cdsVersions });
    const cds2 = await d.next();
    expect(deltaContents(cds2)).toEqual(['c2|v2']);
  });

  it('records a NACK and does not re-send the rejected resource; a newer one goes out', async () => {
    h.cache.setSnapshot(snapshotOf(endpoints('a')));
    d.send({ type_url: EDS, resource_names_subscribe: ['a'] });
    const r1 = await d.next();
    d.nack(r1, 'endpoint a: bad address');
    await watches(1);
    expect(h.ads.nodes.toJSON().nodes[0]?.types[EDS]?.lastNack).toMatchObject({
      message: 'endpoint a: bad address',
      version: r1.system_version_info,
      nonce: r1.nonce,
    });
    expect(await metricValue(h.registry, 'control_plane_xds_nacks_total', { type: 'eds', protocol: 'delta' })).toBe(1);

    h.cache.setSnapshot(snapshotOf(endpoints('a')));
    h.cache.setSnapshot(snapshotOf(endpoints('a', 'fixed')));
    const r2 = await d.next();
    expect(deltaContents(r2)).toEqual(['a|fixed']);
    expect(d.queued()).toBe(0);
  });

  it('re-sends a resource the client subscribes to again, even if unchanged', async () => {
    h.cache.setSnapshot(snapshotOf(endpoints('a')));
    d.send({ type_url: EDS, resource_names_subscribe: ['a'] });
    d.ack(await d.next());
    await watches(1);
    d.send({ type_url: EDS, resource_names_subscribe: ['a'] });
    expect(deltaContents(await d.next())).toEqual(['a|v1']);
  });

  it('with "*" and an explicit name, tells the client about that name when it is unsubscribed', async () => {
    h.cache.setSnapshot(snapshotOf(cluster('c1'), cluster('c2')));
    d.send({ type_url: CDS, resource_names_subscribe: ['*', 'c1', 'ghost'] });
    const r1 = await d.next();
    expect(deltaContents(r1).sort()).toEqual(['c1|v1', 'c2|v1']);
    expect(r1.removed_resources).toEqual(['ghost']);
    d.ack(r1);
    await watches(1);

    // c1 is still in the wildcard: resent; ghost is not: reported removed.
    d.send({ type_url: CDS, resource_names_unsubscribe: ['c1', 'ghost'] });
    const r2 = await d.next();
    expect(deltaContents(r2)).toEqual(['c1|v1']);
    expect(r2.removed_resources).toEqual(['ghost']);
  });

  it('frees the stream state when the client closes', async () => {
    h.cache.setSnapshot(snapshotOf(endpoints('a')));
    d.send({ type_url: EDS, resource_names_subscribe: ['a', 'later'] });
    d.ack(await d.next());
    await watches(1);
    expect(await metricValue(h.registry, 'control_plane_xds_connected_streams', { protocol: 'delta' })).toBe(1);
    d.end();
    await eventually(() => h.ads.openStreams() === 0);
    expect(h.cache.watchCount()).toBe(0);
    expect(h.ads.nodes.toJSON().nodes).toMatchObject([{ state: 'disconnected', protocol: 'delta', nodeId: 'gateway-1' }]);
    expect(await metricValue(h.registry, 'control_plane_xds_connected_streams', { protocol: 'delta' })).toBe(0);
  });
});
