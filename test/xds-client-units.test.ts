import { describe, expect, it } from 'vitest';
import { encodeResource } from '../xds/protos.js';
import { HCM_TYPE_URL, ROUTER_TYPE_URL, TYPE_URL, type TypeUrl } from '../xds/resource.js';
import { AcceptedStore } from '../data-plane/xds/accepted-state.js';
import { Backoff } from '../data-plane/xds/backoff.js';
import { edsNameOf, rdsNamesOf, type DecodedListener } from '../xds/decoded.js';
import { checkResponse, nackMessage, type CheckedResource } from '../data-plane/xds/response-check.js';
import { desiredSubscription, requestNames } from '../data-plane/xds/subscriptions.js';

// The pure parts of the gateway's ADS client: backoff, response checks, the accepted-state
// rules of SotW (envoy xds_protocol.rst) and dependency following.

const LDS = TYPE_URL.listener;
const RDS = TYPE_URL.route;
const CDS = TYPE_URL.cluster;
const EDS = TYPE_URL.endpoint;

const cla = (name: string, port = 9095) =>
  encodeResource(EDS, {
    cluster_name: name,
    endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '10.0.0.1', port_value: port } } } }] }],
  });
const any = (type_url: string, value: Uint8Array) => ({ type_url, value: Buffer.from(value) });

function checked(typeUrl: TypeUrl, ...values: Uint8Array[]): Map<string, CheckedResource> {
  const res = checkResponse(typeUrl, values.map((v) => any(typeUrl, v)), () => true);
  if (!res.ok) throw new Error(res.problems.join('; '));
  return new Map(res.resources);
}

describe('Backoff (full jitter)', () => {
  it('draws from [0, ceiling), doubling the ceiling up to maxMs, and starts over after reset()', () => {
    const top = new Backoff({ initialMs: 250, maxMs: 2000, random: () => 0.999999 });
    expect([1, 2, 3, 4, 5].map(() => top.next())).toEqual([249, 499, 999, 1999, 1999]);
    top.reset();
    expect(top.next()).toBe(249);
    const bottom = new Backoff({ random: () => 0 });
    expect(bottom.next()).toBe(0);
    const defaults = new Backoff({ random: () => 0.999999 });
    for (let i = 0; i < 40; i++) defaults.next();
    expect(defaults.next()).toBe(29_999); // 30 s cap by default
  });
});

describe('checkResponse', () => {
  it('accepts valid resources keyed by name and leaves unrequested ones out', () => {
    const res = checkResponse(EDS, [any(EDS, cla('a')), any(EDS, cla('b'))], (n) => n === 'a');
    expect(res.ok).toBe(true);
    if (res.ok) expect([...res.resources.keys()]).toEqual(['a']);
  });

  it('rejects the whole response for a wrong Any type, a duplicate name or a PGV violation', () => {
    const wrongType = checkResponse(EDS, [any(CDS, cla('a'))], () => true);
    expect(wrongType).toEqual({
      ok: false,
      problems: [`ClusterLoadAssignment resources[0]: type_url "${CDS}" does not match the response type_url`],
    });
    const dup = checkResponse(EDS, [any(EDS, cla('a')), any(EDS, cla('a', 9096))], () => true);
    expect(dup.ok ? [] : dup.problems).toEqual(['ClusterLoadAssignment "a": duplicate resource name in one response']);
    const invalid = checkResponse(EDS, [any(EDS, cla('a', 70000))], () => true);
    expect(invalid.ok ? [] : invalid.problems).toEqual([
      'ClusterLoadAssignment "a": endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value: ' +
        'value must be less than or equal to 65535, got 70000 (uint32.lte)',
    ]);
    const garbage = checkResponse(EDS, [any(EDS, Buffer.from([0xff, 0xff, 0xff]))], () => true);
    expect(garbage.ok ? [] : garbage.problems[0]).toMatch(/^ClusterLoadAssignment resources\[0\]: cannot decode: /);
    const unnamed = checkResponse(LDS, [any(LDS, encodeResource(LDS, {}))], () => true);
    expect(unnamed.ok ? [] : unnamed.problems).toEqual(['Listener resources[0]: name: value is required to identify the resource']);
  });

  it('caps the NACK message', () => {
    const problems = Array.from({ length: 12 }, (_, i) => `p${i}`);
    expect(nackMessage(problems)).toBe('p0; p1; p2; p3; p4; p5; p6; p7; p8; p9; (and 2 more)');
  });
});

describe('AcceptedStore', () => {
  it('treats LDS/CDS responses as the full set and RDS/EDS responses as partial', () => {
    const store = new AcceptedStore();
    const cluster = (name: string) => encodeResource(CDS, { name, type: 'EDS', connect_timeout: { seconds: 1 } });
    expect(store.apply(CDS, 'v1', checked(CDS, cluster('a'), cluster('b')))).toBe(true);
    expect(store.apply(CDS, 'v2', checked(CDS, cluster('b')))).toBe(true);
    expect([...store.current.clusters.keys()]).toEqual(['b']);

    expect(store.apply(EDS, 'e1', checked(EDS, cla('a'), cla('b')))).toBe(true);
    expect(store.apply(EDS, 'e2', checked(EDS, cla('b', 9000)))).toBe(true);
    expect([...store.current.endpoints.keys()]).toEqual(['a', 'b']);
    expect(store.current.versions[EDS]).toBe('e2');
  });

  it('reports no change for the same bytes under a new version, and keeps decoded objects', () => {
    const store = new AcceptedStore();
    store.apply(EDS, 'e1', checked(EDS, cla('a'), cla('b')));
    const before = store.current;
    expect(store.apply(EDS, 'e2', checked(EDS, cla('a'), cla('b')))).toBe(false);
    expect(store.current.endpoints).toBe(before.endpoints);
    expect(store.current.versions[EDS]).toBe('e2');
    expect(store.apply(EDS, 'e3', checked(EDS, cla('a', 1), cla('b')))).toBe(true);
    expect(store.current.endpoints.get('b')).toBe(before.endpoints.get('b'));
    expect(store.current.endpoints.get('a')).not.toBe(before.endpoints.get('a'));
    expect(before.endpoints.get('a')?.endpoints?.[0]?.lb_endpoints?.[0]?.endpoint?.address?.socket_address?.port_value).toBe(9095);
  });

  it('retain() drops what is no longer subscribed', () => {
    const store = new AcceptedStore();
    store.apply(EDS, 'e1', checked(EDS, cla('a'), cla('b')));
    expect(store.retain(EDS, new Set(['b']))).toBe(true);
    expect([...store.current.endpoints.keys()]).toEqual(['b']);
    expect(store.retain(EDS, new Set(['b']))).toBe(false);
  });
});

describe('dependencies', () => {
  const hcm = (route: string) => ({
    '@type': HCM_TYPE_URL,
    stat_prefix: route,
    rds: { route_config_name: route, config_source: { ads: {}, resource_api_version: 'V3' } },
    http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': ROUTER_TYPE_URL } }],
  });

  it('finds RDS names in api_listener, filter chains and the default chain, and EDS names of EDS clusters', () => {
    const listener: DecodedListener = {
      name: 'l',
      api_listener: { api_listener: hcm('api') },
      filter_chains: [{ filters: [{ name: 'hcm', typed_config: hcm('chain') }, { name: 'other', typed_config: { '@type': 'x' } }] }],
      default_filter_chain: { filters: [{ typed_config: hcm('default') }] },
    };
    expect(rdsNamesOf(listener)).toEqual(['api', 'chain', 'default']);
    expect(edsNameOf({ name: 'c', type: 'EDS', eds_cluster_config: { service_name: 'svc' } })).toBe('svc');
    expect(edsNameOf({ name: 'c', type: 'EDS' })).toBe('c');
    expect(edsNameOf({ name: 'c', type: 'LOGICAL_DNS' })).toBeUndefined();
  });

  it('subscribes LDS by name, CDS by wildcard, RDS/EDS from what was accepted', () => {
    const store = new AcceptedStore();
    store.apply(LDS, '1', checked(LDS, encodeResource(LDS, { name: 'gw', api_listener: { api_listener: hcm('routes-b') } })));
    store.apply(CDS, '1', checked(CDS,
      encodeResource(CDS, { name: 'x', type: 'EDS', connect_timeout: { seconds: 1 } }),
      encodeResource(CDS, { name: 'y', type: 'STATIC', connect_timeout: { seconds: 1 } }),
    ));
    const names = (t: TypeUrl) => requestNames(desiredSubscription(t, 'gw', store.current));
    expect(names(LDS)).toEqual(['gw']);
    expect(desiredSubscription(CDS, 'gw', store.current).wildcard).toBe(true);
    expect(names(CDS)).toEqual([]);
    expect(names(RDS)).toEqual(['routes-b']);
    expect(names(EDS)).toEqual(['x']);
  });
});
