import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { translate, orderRoutes } from '../control-plane/translate.js';
import { GATEWAY_METADATA_KEY } from '../xds/gateway-metadata.js';
import { unsetBackendMessage } from '../core/routes.js';
import { TYPE_URL, TYPE_ORDER, type TypeUrl, type XdsResource } from '../xds/resource.js';
import { decodeResource, encodeResource, type PlainMessage } from '../xds/protos.js';
import { validateResource } from '../xds/validate.js';
import { routeTable } from '../core/routes.js';
import {
  backend, backendsFrom, endpointMap, endpoints, partialInput, realisticInput, referenceRoute, DISTRIBUTOR_URL,
  GATEWAY_LISTENER,
} from './support/fixtures.js';

// grpc-js-xds's own resource validators: what a proxyless gRPC client runs before accepting a
// resource (its NACK reasons). Deep imports: the package has no "exports" map.
const require = createRequire(import.meta.url);
type Decoder = { get(): { decode(ctx: unknown, res: { type_url: string; value: Buffer }): { error?: string } } };
const xds = require('@grpc/grpc-js-xds') as { register(): void };
xds.register(); // registers the router filter that listener validation looks up
const grpcTypes: Record<TypeUrl, Decoder> = {
  [TYPE_URL.cluster]: require('@grpc/grpc-js-xds/build/src/xds-resource-type/cluster-resource-type.js').ClusterResourceType,
  [TYPE_URL.endpoint]: require('@grpc/grpc-js-xds/build/src/xds-resource-type/endpoint-resource-type.js').EndpointResourceType,
  [TYPE_URL.listener]: require('@grpc/grpc-js-xds/build/src/xds-resource-type/listener-resource-type.js').ListenerResourceType,
  [TYPE_URL.route]: require('@grpc/grpc-js-xds/build/src/xds-resource-type/route-config-resource-type.js').RouteConfigurationResourceType,
};
const grpcContext = { server: { serverUri: 'control-plane:0', channelCredentials: {}, serverFeatures: [] }, bootstrap: { certificateProviders: {} } };

function grpcErrors(r: XdsResource): string | undefined {
  return grpcTypes[r.typeUrl].get().decode(grpcContext, { type_url: r.typeUrl, value: Buffer.from(r.value) }).error;
}

function all(out: ReadonlyMap<TypeUrl, readonly XdsResource[]>): XdsResource[] {
  return TYPE_ORDER.flatMap((t) => out.get(t) ?? []);
}

function get(out: ReadonlyMap<TypeUrl, readonly XdsResource[]>, t: TypeUrl, name: string): PlainMessage {
  const r = out.get(t)?.find((x) => x.name === name);
  if (!r) throw new Error(`no ${t} named ${name}`);
  return decodeResource(t, r.value);
}

const names = (out: ReadonlyMap<TypeUrl, readonly XdsResource[]>, t: TypeUrl): string[] => (out.get(t) ?? []).map((r) => r.name);

describe('translate', () => {
  const realistic = translate(realisticInput());
  const partial = translate(partialInput());

  it('emits one cluster per backend, CLAs and api_listeners for dns backends, and the gateway listener/routes', () => {
    expect([...realistic.keys()]).toEqual(TYPE_ORDER);
    expect(names(realistic, TYPE_URL.cluster)).toEqual([
      'admin_api', 'alertmanager', 'compactor', 'default', 'distributor', 'graphite', 'ingester', 'query_frontend',
      'ruler', 'store_gateway',
    ]);
    expect(names(realistic, TYPE_URL.endpoint)).toEqual(['distributor']);
    expect(names(realistic, TYPE_URL.listener)).toEqual(['distributor', 'metrics-gateway']);
    expect(names(realistic, TYPE_URL.route)).toEqual(['metrics-gateway']);
    expect(names(partial, TYPE_URL.cluster)).toEqual(['distributor', 'ruler']);
  });

  it('passes Envoy PGV validation for every resource, encoded and as its view', () => {
    for (const out of [realistic, partial]) {
      for (const r of all(out)) {
        expect(validateResource(r.typeUrl, r.value), `${r.typeUrl} ${r.name}`).toEqual([]);
        expect(validateResource(r.typeUrl, r.view as PlainMessage), `${r.typeUrl} ${r.name} view`).toEqual([]);
      }
    }
  });

  it('passes grpc-js-xds validation for everything a gRPC client subscribes to', () => {
    const consumed = all(realistic).filter(
      (r) => r.typeUrl !== TYPE_URL.cluster || (r.view as PlainMessage)['type'] === 'EDS',
    );
    expect(consumed.length).toBeGreaterThanOrEqual(4);
    for (const r of consumed) expect(grpcErrors(r), `${r.typeUrl} ${r.name}`).toBeUndefined();
    // Plain-http clusters are only read by the gateway; gRPC accepts them too unless they carry a
    // file-based TLS context (gRFC A29 wants certificate-provider instances).
    expect(grpcErrors(realistic.get(TYPE_URL.cluster)!.find((r) => r.name === 'query_frontend')!)).toBeUndefined();
    expect(grpcErrors(realistic.get(TYPE_URL.cluster)!.find((r) => r.name === 'admin_api')!)).toMatch(/ca_certificate_provider_instance/);
    // Likewise the gateway's RouteConfiguration: gRPC has no direct_response, Envoy and the gateway do.
    expect(grpcErrors(partial.get(TYPE_URL.route)![0]!)).toMatch(/unsupported action: direct_response/);
  });

  it('round-trips: decode(value) re-encodes to the same bytes and matches the view', () => {
    for (const r of all(realistic)) {
      const decoded = decodeResource(r.typeUrl, r.value);
      expect(Buffer.from(encodeResource(r.typeUrl, decoded)).equals(Buffer.from(r.value)), r.name).toBe(true);
      expect(Buffer.from(encodeResource(r.typeUrl, r.view as PlainMessage)).equals(Buffer.from(r.value))).toBe(true);
    }
  });

  it('is deterministic: same facts in any order give byte-identical resources', () => {
    const input = realisticInput();
    const shuffled = realisticInput({
      backends: [...input.backends].reverse(),
      routes: [...input.routes].reverse(),
      endpoints: endpointMap([[DISTRIBUTOR_URL, endpoints('10.0.0.2:9095', '10.0.0.3:9095', '10.0.0.1:9095')]]),
    });
    const bytes = (o: typeof realistic): string[] => all(o).map((r) => `${r.typeUrl} ${r.name} ${Buffer.from(r.value).toString('hex')}`);
    expect(bytes(translate(shuffled))).toEqual(bytes(realistic));
    expect(bytes(translate(realisticInput()))).toEqual(bytes(realistic));
  });

  it('dns backend: EDS cluster over ADS, round robin, metadata saying httpgrpc', () => {
    const c = get(realistic, TYPE_URL.cluster, 'distributor');
    expect(c).toMatchObject({
      name: 'distributor',
      type: 'EDS',
      eds_cluster_config: { eds_config: { ads: {}, resource_api_version: 'V3' } },
      connect_timeout: { seconds: '5' },
    });
    expect(c['lb_policy'] ?? 'ROUND_ROBIN').toBe('ROUND_ROBIN'); // enum 0 may be omitted when decoding
    const md = (c['metadata'] as { filter_metadata: Record<string, { fields: Record<string, unknown> }> }).filter_metadata[GATEWAY_METADATA_KEY];
    expect(md?.fields).toMatchObject({
      backend: { stringValue: 'distributor' },
      proxy: { stringValue: 'httpgrpc' },
      url: { stringValue: DISTRIBUTOR_URL },
      timeout_ms: { numberValue: 10000 },
      enable_keepalive: { boolValue: true },
      tls_insecure_skip_verify: { boolValue: false },
    });
    expect(realistic.get(TYPE_URL.cluster)?.find((r) => r.name === 'distributor')?.refs).toEqual([
      { typeUrl: TYPE_URL.endpoint, names: ['distributor'] },
    ]);
  });

  it('dns backend: one weighted locality with the resolved addresses, sorted and de-duplicated', () => {
    const cla = get(realistic, TYPE_URL.endpoint, 'distributor');
    const locality = (cla['endpoints'] as PlainMessage[])[0];
    expect((cla['endpoints'] as unknown[]).length).toBe(1);
    expect(locality?.['locality']).toEqual({});
    expect(locality?.['load_balancing_weight']).toEqual({ value: 1 });
    const addrs = (locality?.['lb_endpoints'] as { endpoint: { address: { socket_address: { address: string; port_value: number } } } }[])
      .map((e) => `${e.endpoint.address.socket_address.address}:${e.endpoint.address.socket_address.port_value}`);
    expect(addrs).toEqual(['10.0.0.1:9095', '10.0.0.2:9095', '10.0.0.3:9095']);

    const dup = translate(realisticInput({ endpoints: endpointMap([[DISTRIBUTOR_URL, endpoints('10.0.0.1:9095', '10.0.0.1:9095')]]) }));
    const r = dup.get(TYPE_URL.endpoint)![0]!;
    expect(grpcErrors(r)).toBeUndefined(); // gRPC NACKs duplicate addresses
    expect(JSON.stringify(decodeResource(r.typeUrl, r.value)).match(/10\.0\.0\.1/g)).toHaveLength(1);
  });

  it('dns backend: unresolved name gives an empty CLA; an IP literal is its own endpoint', () => {
    const none = translate(realisticInput({ endpoints: new Map() }));
    expect(get(none, TYPE_URL.endpoint, 'distributor')).toEqual({ cluster_name: 'distributor' });
    const literal = translate({ ...partialInput(), backends: [backend('distributor', 'dns:///[::1]:9095')], endpoints: new Map() });
    expect(JSON.stringify(get(literal, TYPE_URL.endpoint, 'distributor'))).toContain('"address":"::1","port_value":9095');
  });

  it('dns backend: api_listener for xds:///distributor with inline routes to the cluster and a deadline', () => {
    const l = get(realistic, TYPE_URL.listener, 'distributor');
    const hcm = (l['api_listener'] as { api_listener: PlainMessage }).api_listener;
    expect(hcm['@type']).toBe('type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager');
    expect(hcm['http_filters']).toEqual([
      { name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } },
    ]);
    expect(hcm['route_config']).toEqual({
      name: 'distributor',
      virtual_hosts: [{
        name: 'distributor',
        domains: ['*'],
        routes: [{ name: 'all', match: { prefix: '' }, route: { cluster: 'distributor', max_stream_duration: { max_stream_duration: { seconds: '10' } } } }],
      }],
    });
  });

  it('http backend by name: LOGICAL_DNS with an inline host:port, no TLS, metadata saying http', () => {
    const c = get(realistic, TYPE_URL.cluster, 'query_frontend');
    expect(c['type']).toBe('LOGICAL_DNS');
    expect(c['transport_socket']).toBeUndefined();
    expect(JSON.stringify(c['load_assignment'])).toContain('"socket_address":{"address":"query-frontend.mimir.svc","port_value":8080}');
    expect(JSON.stringify(c['metadata'])).toContain('"proxy":{"stringValue":"http"}');
  });

  it('http backend by IP literal: STATIC', () => {
    expect(get(realistic, TYPE_URL.cluster, 'store_gateway')['type']).toBe('STATIC');
  });

  it('https backend: upstream TLS with SNI, the private CA, host name check and client cert', () => {
    const ts = get(realistic, TYPE_URL.cluster, 'admin_api')['transport_socket'];
    expect(ts).toEqual({
      name: 'envoy.transport_sockets.tls',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
        sni: 'gem-admin.example.com',
        common_tls_context: {
          tls_certificates: [{ certificate_chain: { filename: '/etc/gateway/client.pem' }, private_key: { filename: '/etc/gateway/client.key' } }],
          validation_context: {
            trusted_ca: { filename: '/etc/gateway/ca.pem' },
            match_typed_subject_alt_names: [{ san_type: 'DNS', matcher: { exact: 'gem-admin.example.com' } }],
          },
        },
      },
    });
  });

  it('https without CA uses system roots; insecure_skip_verify drops verification; tls_enabled on http adds TLS', () => {
    const tlsOf = (b: ReturnType<typeof backend>): string =>
      JSON.stringify(get(translate({ ...partialInput(), backends: [b] }), TYPE_URL.cluster, b.name)['transport_socket'] ?? null);
    expect(tlsOf(backend('default', 'https://mimir.example.com'))).toContain('"system_root_certs":{}');
    const insecure = tlsOf(backend('default', 'https://mimir.example.com', { tls: { insecureSkipVerify: true } }));
    expect(insecure).toContain('"sni":"mimir.example.com"');
    expect(insecure).not.toContain('validation_context');
    expect(tlsOf(backend('default', 'http://10.0.0.9:8080', { tls: { enabled: true, serverName: 'mimir.internal' } })))
      .toContain('"sni":"mimir.internal"');
  });

  it('falls back: routes for unset backends go to clusters built from default', () => {
    const ruler = get(realistic, TYPE_URL.cluster, 'ruler');
    expect(JSON.stringify(ruler['load_assignment'])).toContain('"address":"mimir.mimir.svc"');
    expect(JSON.stringify(ruler['metadata'])).toContain('"backend":{"stringValue":"ruler"}');
  });

  it('gateway listener: socket address and HCM with RDS over ADS, router last', () => {
    const l = get(realistic, TYPE_URL.listener, 'metrics-gateway');
    expect(l['address']).toEqual({ socket_address: { address: '127.0.0.1', port_value: 8080 } });
    const filter = (l['filter_chains'] as { filters: PlainMessage[] }[])[0]?.filters[0];
    expect(filter?.['name']).toBe('envoy.filters.network.http_connection_manager');
    expect(filter?.['typed_config']).toMatchObject({
      rds: { config_source: { ads: {}, resource_api_version: 'V3' }, route_config_name: 'metrics-gateway' },
      http_filters: [{ name: 'envoy.filters.http.router' }],
    });
    expect(realistic.get(TYPE_URL.listener)?.find((r) => r.name === 'metrics-gateway')?.refs).toEqual([
      { typeUrl: TYPE_URL.route, names: ['metrics-gateway'] },
    ]);
  });

  it("route order: Envoy's first match picks the same backend as exact-then-longest-prefix", () => {
    const rc = get(realistic, TYPE_URL.route, 'metrics-gateway');
    const vh = (rc['virtual_hosts'] as { domains: string[]; routes: { match: { path?: string; prefix?: string }; route?: { cluster: string } }[] }[])[0]!;
    expect(vh.domains).toEqual(['*']);
    const envoyFirstMatch = (path: string): string | undefined =>
      vh.routes.find((r) => (r.match.path !== undefined ? r.match.path === path : path.startsWith(r.match.prefix ?? '')))?.route?.cluster;
    const table = routeTable();
    const paths = [
      '/api/v1/push', '/api/v1/push/influx/write', '/api/v1/pushx', '/prometheus/api/v1/query', '/prometheus/api/v1/rules',
      '/prometheus/api/v1/alerts', '/api/v1/alerts', '/alertmanager/api/v2/status', '/otlp/v1/metrics', '/ruler/ring',
      '/compactor/ring', '/api/v1/status/buildinfo', '/graphite/render', '/anything', '/',
    ];
    for (const p of paths) expect(envoyFirstMatch(p), p).toBe(referenceRoute(table, p)?.backend);
    expect(vh.routes[0]?.match).toEqual({ path: '/api/v1/alerts' });
    const refs = realistic.get(TYPE_URL.route)?.[0]?.refs;
    expect(refs?.[0]?.names).toEqual(['admin_api', 'alertmanager', 'compactor', 'default', 'distributor', 'graphite', 'ingester', 'query_frontend', 'ruler', 'store_gateway']);
  });

  it('route to an unset backend answers 503 naming the config to set', () => {
    const rc = get(partial, TYPE_URL.route, 'metrics-gateway');
    const routes = (rc['virtual_hosts'] as { routes: PlainMessage[] }[])[0]?.routes ?? [];
    expect(routes.find((r) => r['name'] === 'prefix:/prometheus')).toEqual({
      name: 'prefix:/prometheus',
      match: { prefix: '/prometheus' },
      direct_response: { status: 503, body: { inline_string: unsetBackendMessage('query_frontend') } },
    });
    expect(routes.find((r) => r['name'] === 'prefix:/ruler/')?.['route']).toEqual({ cluster: 'ruler', timeout: { seconds: '30' } });
    expect(unsetBackendMessage('default')).toBe('no backend configured for "default": set gateway.proxy.default.url (-gateway.proxy.default.url)');
    expect(partial.get(TYPE_URL.route)?.[0]?.refs).toEqual([{ typeUrl: TYPE_URL.cluster, names: ['distributor', 'ruler'] }]);
  });

  it('orderRoutes drops a repeated match, keeping the first rule', () => {
    const ordered = orderRoutes([
      { match: 'prefix', path: '/a/', backend: 'ruler' },
      { match: 'prefix', path: '/a/', backend: 'compactor' },
      { match: 'exact', path: '/a/b', backend: 'ingester' },
    ]);
    expect(ordered.map((r) => `${r.match} ${r.path} ${r.backend}`)).toEqual(['exact /a/b ingester', 'prefix /a/ ruler']);
  });

  it('rejects two backends with one name', () => {
    const twice = backendsFrom({ ruler: 'http://a:1' }).concat(backendsFrom({ ruler: 'http://b:1' }));
    expect(() => translate({ ...partialInput(), backends: twice })).toThrow('duplicate backend "ruler"');
  });

  it('translates a thousand endpoints, all of them, and they validate', () => {
    const many = Array.from({ length: 1000 }, (_, i) => ({ address: `10.${(i >> 8) & 255}.${i & 255}.1`, port: 9095 }));
    const out = translate(realisticInput({ endpoints: endpointMap([[DISTRIBUTOR_URL, many]]) }));
    const cla = out.get(TYPE_URL.endpoint)![0]!;
    expect(validateResource(cla.typeUrl, cla.value)).toEqual([]);
    const locality = (get(out, TYPE_URL.endpoint, 'distributor')['endpoints'] as PlainMessage[])[0]!;
    expect((locality['lb_endpoints'] as unknown[]).length).toBe(1000);
  });

  it('uses the listener spec', () => {
    const out = translate({ ...partialInput(), listener: { ...GATEWAY_LISTENER, name: 'gw-2', port: 9999 } });
    expect(names(out, TYPE_URL.route)).toEqual(['gw-2']);
    expect(JSON.stringify(get(out, TYPE_URL.listener, 'gw-2'))).toContain('"port_value":9999');
  });
});
