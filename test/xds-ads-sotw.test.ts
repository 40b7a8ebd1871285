import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TYPE_URL } from '../xds/resource.js';
import { startAds, eventually, metricValue, sotwContents, type AdsHarness, type SotwTestStream } from './support/ads-client.js';
import { cluster, endpoints, listener, routeConfig, snapshotOf } from './support/xds-fixtures.js';

// StreamAggregatedResources against a real gRPC server on loopback, one rule per test
// (envoy docs/root/api-docs/xds_protocol.rst).

const CDS = TYPE_URL.cluster;
const EDS = TYPE_URL.endpoint;
const LDS = TYPE_URL.listener;
const RDS = TYPE_URL.route;

let h: AdsHarness;
let s: SotwTestStream;

beforeEach(async () => {
  h = await startAds();
  s = h.client.sotw();
});

afterEach(async () => {
  s.cancel();
  await h.close();
});

/** Waits until the server has processed requests and holds `n` open watches. */
const watches = (n: number) => eventually(() => h.cache.watchCount() === n, 2000, `${n} open watches`);

describe('ADS state of the world', () => {
  it('answers a wildcard CDS request, records the ACK, and pushes the next version after it', async () => {
    h.cache.setSnapshot(snapshotOf(cluster('c1'), cluster('c2')));
    s.send({ type_url: CDS });
    const r1 = await s.next();
    expect(r1.type_url).toBe(CDS);
    expect(r1.nonce).not.toBe('');
    expect(sotwContents(r1).sort()).toEqual(['c1|v1', 'c2|v1']);

    s.ack(r1);
    await watches(1);
    const node = h.ads.nodes.toJSON().nodes[0];
    expect(node?.types[CDS]?.ackedVersion).toBe(r1.version_info);
    expect(await metricValue(h.registry, 'control_plane_xds_acks_total', { type: 'cds' })).toBe(1);

    h.cache.setSnapshot(snapshotOf(cluster('c1', 'v2'), cluster('c2')));
    const r2 = await s.next();
    expect(r2.version_info).not.toBe(r1.version_info);
    expect(r2.nonce).not.toBe(r1.nonce);
    // CDS is full state: the unchanged cluster is sent again too.
    expect(sotwContents(r2).sort()).toEqual(['c1|v2', 'c2|v1']);
  });

  it('records a NACK and does not send the rejected version again; the next version goes out', async () => {
    h.cache.setSnapshot(snapshotOf(cluster('c1')));
    s.send({ type_url: CDS });
    const r1 = await s.next();
    s.nack(r1, 'cluster c1: bad lb policy');
    await watches(1);

    const nack = h.ads.nodes.toJSON().nodes[0]?.types[CDS]?.lastNack;
    expect(nack).toMatchObject({ message: 'cluster c1: bad lb policy', version: r1.version_info, nonce: r1.nonce });
    expect(await metricValue(h.registry, 'control_plane_xds_nacks_total', { type: 'cds' })).toBe(1);

    // Publishing the same content again must not re-send it (no NACK loop) ...
    h.cache.setSnapshot(snapshotOf(cluster('c1')));
    // ... and a newer version is the very next message.
    h.cache.setSnapshot(snapshotOf(cluster('c1', 'fixed')));
    const r2 = await s.next();
    expect(sotwContents(r2)).toEqual(['c1|fixed']);
    expect(s.queued()).toBe(0);
  });

  it('ignores a request carrying a stale nonce', async () => {
    h.cache.setSnapshot(snapshotOf(endpoints('a'), endpoints('b')));
    s.send({ type_url: EDS, resource_names: ['a'] });
    const r1 = await s.next();
    s.ack(r1, ['a']);
    await watches(1);
    h.cache.setSnapshot(snapshotOf(endpoints('a', 'v2'), endpoints('b')));
    const r2 = await s.next();
    expect(sotwContents(r2)).toEqual(['a|v2']);

    // Answers r1, which r2 superseded: must be ignored, including its new resource name.
    s.send({ type_url: EDS, version_info: r1.version_info, response_nonce: r1.nonce, resource_names: ['a', 'b'] });
    s.ack(r2, ['a']);
    await watches(1);
    h.cache.setSnapshot(snapshotOf(endpoints('a', 'v3'), endpoints('b')));
    const r3 = await s.next();
    // Had the stale request been processed, 'b' would have been sent.
    expect(sotwContents(r3)).toEqual(['a|v3']);
  });

  it('answers a request naming a subset with exactly that subset (EDS and explicit LDS)', async () => {
    h.cache.setSnapshot(snapshotOf(endpoints('a'), endpoints('b'), endpoints('c'), listener('l1'), listener('l2')));
    s.send({ type_url: EDS, resource_names: ['a', 'c'] });
    expect(sotwContents(await s.next()).sort()).toEqual(['a|v1', 'c|v1']);

    // A gRPC proxyless client asks LDS for one listener by name.
    s.send({ type_url: LDS, resource_names: ['l2'] });
    expect(sotwContents(await s.next())).toEqual(['l2|v1']);
  });

  it('treats an empty LDS/CDS request and "*" as wildcard; explicit names then narrow it', async () => {
    h.cache.setSnapshot(snapshotOf(listener('l1'), listener('l2'), cluster('c1'), cluster('c2')));
    s.send({ type_url: CDS, resource_names: ['*'] });
    const cds = await s.next();
    expect(sotwContents(cds).sort()).toEqual(['c1|v1', 'c2|v1']);

    s.send({ type_url: LDS });
    const lds = await s.next();
    expect(sotwContents(lds).sort()).toEqual(['l1|v1', 'l2|v1']);

    // Narrowing to an explicit name adds nothing new, so nothing is due; from now on only
    // l1 is watched: a change to l2 alone is not pushed, a change to l1 is, without l2.
    s.ack(lds, ['l1']);
    await watches(1);
    h.cache.setSnapshot(snapshotOf(listener('l1'), listener('l2', 'v2'), cluster('c1'), cluster('c2')));
    h.cache.setSnapshot(snapshotOf(listener('l1', 'v3'), listener('l2', 'v2'), cluster('c1'), cluster('c2')));
    const next = await s.next();
    expect(next.type_url).toBe(LDS);
    expect(sotwContents(next)).toEqual(['l1|v3']);
  });

  it('answers the first LDS/CDS request even when there is nothing to send', async () => {
    h.cache.setSnapshot(snapshotOf(endpoints('a')));
    s.send({ type_url: CDS });
    const r = await s.next();
    expect(r.type_url).toBe(CDS);
    expect(r.resources).toEqual([]);
  });

  it('answers a re-subscription and a new name set at the same version', async () => {
    h.cache.setSnapshot(snapshotOf(endpoints('a'), endpoints('b')));
    s.send({ type_url: EDS, resource_names: ['a'] });
    const r1 = await s.next();
    expect(sotwContents(r1)).toEqual(['a|v1']);

    // Same version, new set: the new name must be sent.
    s.ack(r1, ['a', 'b']);
    const r2 = await s.next();
    expect(r2.version_info).toBe(r1.version_info);
    expect(sotwContents(r2).sort()).toEqual(['a|v1', 'b|v1']);

    // Unsubscribe from everything, then subscribe to 'a' again: answered although unchanged.
    s.ack(r2, []);
    s.send({ type_url: EDS, version_info: r2.version_info, response_nonce: r2.nonce, resource_names: ['a'] });
    const r3 = await s.next();
    expect(sotwContents(r3)).toEqual(['a|v1']);
  });

  it('sends a requested name as soon as a snapshot contains it', async () => {
    h.cache.setSnapshot(snapshotOf(endpoints('a')));
    s.send({ type_url: EDS, resource_names: ['a', 'late'] });
    const r1 = await s.next();
    expect(sotwContents(r1)).toEqual(['a|v1']);
    s.ack(r1, ['a', 'late']);
    await watches(1);

    h.cache.setSnapshot(snapshotOf(endpoints('a'), endpoints('late')));
    expect(sotwContents(await s.next()).sort()).toEqual(['a|v1', 'late|v1']);
  });

  it('pushes types due at once in the order CDS, EDS, LDS, RDS', async () => {
    const build = (v: string) =>
      snapshotOf(cluster('c', v, 'e'), endpoints('e', v), listener('l', v, 'r'), routeConfig('r', v, ['c']));
    // Requested in the reverse order, before any snapshot exists.
    s.send({ type_url: RDS, resource_names: ['r'] });
    s.send({ type_url: LDS });
    s.send({ type_url: EDS, resource_names: ['e'] });
    s.send({ type_url: CDS });
    await watches(4);

    h.cache.setSnapshot(build('v1'));
    const first = [await s.next(), await s.next(), await s.next(), await s.next()];
    expect(first.map((r) => r.type_url)).toEqual([CDS, EDS, LDS, RDS]);

    for (const r of first) s.ack(r, r.type_url === EDS ? ['e'] : r.type_url === RDS ? ['r'] : []);
    await watches(4);
    h.cache.setSnapshot(build('v2'));
    const second = [await s.next(), await s.next(), await s.next(), await s.next()];
    expect(second.map((r) => r.type_url)).toEqual([CDS, EDS, LDS, RDS]);
    expect(second.map((r) => sotwContents(r)[0])).toEqual(['c|v2', 'e|v2', 'l|v2', 'r|v2']);
  });

  it('frees all per-stream state when the stream ends, keeping a bounded "disconnected" record', async () => {
    h.cache.setSnapshot(snapshotOf(cluster('c1')));
    s.send({
      type_url: CDS,
      node: { id: 'gw-7', cluster: 'edge', user_agent_name: 'metrics-gateway', user_agent_version: '0.1.0', metadata: { fields: { zone: { stringValue: 'eu-1' } } } },
    });
    const r = await s.next();
    s.send({ type_url: EDS, resource_names: ['missing'] });
    await watches(1);
    expect(h.ads.openStreams()).toBe(1);
    expect(await metricValue(h.registry, 'control_plane_xds_connected_streams', { protocol: 'sotw' })).toBe(1);
    const live = h.ads.nodes.toJSON().nodes[0];
    expect(live).toMatchObject({ state: 'connected', protocol: 'sotw', nodeId: 'gw-7', cluster: 'edge', userAgent: 'metrics-gateway/0.1.0', metadata: { zone: 'eu-1' } });
    expect(live?.peer).toMatch(/127\.0\.0\.1/);
    expect(live?.types[CDS]?.lastSent).toMatchObject({ version: r.version_info, nonce: r.nonce });

    s.cancel();
    await eventually(() => h.ads.openStreams() === 0, 2000, 'stream state freed');
    expect(h.cache.watchCount()).toBe(0);
    expect(h.ads.nodes.connectedCount()).toBe(0);
    expect(h.ads.nodes.toJSON().nodes).toMatchObject([{ state: 'disconnected', nodeId: 'gw-7' }]);
    expect(await metricValue(h.registry, 'control_plane_xds_connected_streams', { protocol: 'sotw' })).toBe(0);
  });

  it('ends a stream whose request has no type URL with INVALID_ARGUMENT', async () => {
    s.send({ resource_names: ['a'] });
    const status = await s.status;
    expect(status.code).toBe(3);
    expect(status.details).toMatch(/type_url is required/);
    await eventually(() => h.ads.openStreams() === 0);
  });
});
