import protobuf from 'protobufjs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  decodeResource, encodeResource, envoyRoot, envoyRootLoadMs, lookupType, newProtoRoot, PARSE_OPTIONS, type PlainMessage,
} from '../xds/protos.js';
import { rulesOf, validateMessage, validateResource } from '../xds/validate.js';
import { TYPE_URL } from '../xds/resource.js';

const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';

function cluster(overrides: PlainMessage = {}): PlainMessage {
  return {
    name: 'distributor',
    type: 'STATIC',
    connect_timeout: { seconds: 5 },
    load_assignment: {
      cluster_name: 'distributor',
      endpoints: [{
        locality: {},
        lb_endpoints: [
          { endpoint: { address: { socket_address: { address: '10.0.0.1', port_value: 9095 } } } },
          { endpoint: { address: { socket_address: { address: '10.0.0.2', port_value: 9095 } } } },
        ],
      }],
    },
    ...overrides,
  };
}

function listener(hcm: PlainMessage): PlainMessage {
  return {
    name: 'metrics-gateway',
    address: { socket_address: { address: '127.0.0.1', port_value: 8080 } },
    filter_chains: [{ filters: [{ name: 'envoy.filters.network.http_connection_manager', typed_config: { '@type': HCM, ...hcm } }] }],
  };
}

const goodHcm = {
  stat_prefix: 'gw',
  rds: { config_source: { ads: {}, resource_api_version: 'V3' }, route_config_name: 'metrics-gateway' },
  http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': ROUTER } }],
};

/** Validates the encoded bytes (what goes on the wire) and the plain object; both must agree. */
function check(typeUrl: string, obj: PlainMessage): string[] {
  const fromBytes = validateResource(typeUrl, encodeResource(typeUrl, obj));
  expect(validateResource(typeUrl, obj)).toEqual(fromBytes);
  return fromBytes;
}

describe('protos', () => {
  it('loads the Envoy API once, lazily, from @grpc/grpc-js-xds', () => {
    const ms = envoyRootLoadMs();
    console.info(`Envoy proto root loaded in ${ms.toFixed(0)} ms`); // information only: no time limit in tests
    expect(envoyRoot()).toBe(envoyRoot());
    for (const name of [
      'envoy.config.cluster.v3.Cluster', 'envoy.config.endpoint.v3.ClusterLoadAssignment', 'envoy.config.listener.v3.Listener',
      'envoy.config.route.v3.RouteConfiguration', 'envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
      'envoy.extensions.filters.http.router.v3.Router', 'google.protobuf.Struct', 'google.rpc.Status',
    ]) {
      expect(lookupType(`type.googleapis.com/${name}`).fullName).toBe(`.${name}`);
    }
    expect(() => lookupType('envoy.config.cluster.v3.Nope')).toThrow('unknown protobuf message type "envoy.config.cluster.v3.Nope"');
  });

  it('encodes nested Any given as {@type, ...fields} and decodes back to that form', () => {
    const l = listener(goodHcm);
    const bytes = encodeResource(TYPE_URL.listener, l);
    const back = decodeResource(TYPE_URL.listener, bytes);
    expect(back).toEqual({ ...l, address: { socket_address: { address: '127.0.0.1', port_value: 8080 } } });
    const filter = (back['filter_chains'] as { filters: { typed_config: PlainMessage }[] }[])[0]?.filters[0]?.typed_config;
    expect(filter?.['@type']).toBe(HCM);
    expect(filter?.['http_filters']).toEqual([{ name: 'envoy.filters.http.router', typed_config: { '@type': ROUTER } }]);
  });

  it('decodes enums as names and 64-bit integers as strings', () => {
    const back = decodeResource(TYPE_URL.cluster, encodeResource(TYPE_URL.cluster, cluster({ type: 'EDS', connect_timeout: { seconds: 2, nanos: 5 } })));
    expect(back['type']).toBe('EDS');
    expect(back['connect_timeout']).toEqual({ seconds: '2', nanos: 5 });
  });

  it('refuses an Any whose @type it does not know instead of encoding an empty Any', () => {
    const l = listener({ ...goodHcm, http_filters: [{ name: 'x', typed_config: { '@type': 'type.googleapis.com/envoy.Nope' } }] });
    expect(() => encodeResource(TYPE_URL.listener, l)).toThrow(
      'filter_chains[0].filters[0].typed_config.http_filters[0].typed_config: @type "type.googleapis.com/envoy.Nope" is not a message type known to the Envoy proto root',
    );
  });
});

describe('protobufjs option exposure', () => {
  it('keeps (validate.rules) nested in parsedOptions, incl. repeated item rules', () => {
    expect(rulesOf('envoy.config.core.v3.SocketAddress', 'port_value')).toEqual({ uint32: { lte: 65535 } });
    expect(rulesOf('envoy.config.cluster.v3.Cluster', 'connect_timeout')).toEqual({ duration: { gt: {} } });
    expect(rulesOf('envoy.config.route.v3.VirtualHost', 'domains')).toEqual({
      repeated: { min_items: 1, items: { string: { well_known_regex: 'HTTP_HEADER_VALUE', strict: false } } },
    });
    // field.options flattens the same rules into dotted keys, losing the nesting.
    expect(lookupType('envoy.config.core.v3.SocketAddress').fields['port_value']?.options).toEqual({ '(validate.rules).uint32.lte': 65535 });
  });

  it('exposes (validate.required) on oneofs through oneof.options', () => {
    const oneof = lookupType('envoy.config.core.v3.SocketAddress').oneofs['port_specifier'];
    expect(oneof?.options?.['(validate.required)']).toBe(true);
  });
});

describe('validateResource on Envoy resources', () => {
  it('accepts a valid cluster and listener', () => {
    expect(check(TYPE_URL.cluster, cluster())).toEqual([]);
    expect(check(TYPE_URL.listener, listener(goodHcm))).toEqual([]);
  });

  it('port 70000', () => {
    const c = cluster();
    const eps = (c['load_assignment'] as { endpoints: { lb_endpoints: { endpoint: { address: { socket_address: PlainMessage } } }[] }[] }).endpoints;
    eps[0]!.lb_endpoints[1]!.endpoint.address.socket_address['port_value'] = 70000;
    expect(check(TYPE_URL.cluster, c)).toEqual([
      'Cluster "distributor": load_assignment.endpoints[0].lb_endpoints[1].endpoint.address.socket_address.port_value: value must be less than or equal to 65535, got 70000 (uint32.lte)',
    ]);
  });

  it('empty cluster name', () => {
    expect(check(TYPE_URL.cluster, cluster({ name: '' }))).toEqual([
      'Cluster "": name: value length must be at least 1 runes (string.min_len)',
    ]);
  });

  it('lb_policy out of enum', () => {
    expect(check(TYPE_URL.cluster, cluster({ lb_policy: 99 }))).toEqual([
      'Cluster "distributor": lb_policy: value must be one of the defined enum values (enum.defined_only)',
    ]);
  });

  it('connect_timeout of zero (duration.gt)', () => {
    expect(check(TYPE_URL.cluster, cluster({ connect_timeout: {} }))).toEqual([
      'Cluster "distributor": connect_timeout: value must be greater than 0s, got 0s (duration.gt)',
    ]);
  });

  it('missing required oneof', () => {
    const c = cluster();
    const sa = (c['load_assignment'] as { endpoints: { lb_endpoints: { endpoint: { address: { socket_address: PlainMessage } } }[] }[] })
      .endpoints[0]!.lb_endpoints[0]!.endpoint.address.socket_address;
    delete sa['port_value'];
    expect(check(TYPE_URL.cluster, c)).toEqual([
      'Cluster "distributor": load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_specifier: value is required: set one of port_value, named_port (validate.required)',
    ]);
    const hcmWithoutRoutes = { stat_prefix: 'gw', http_filters: goodHcm.http_filters };
    expect(check(TYPE_URL.listener, listener(hcmWithoutRoutes))).toEqual([
      'Listener "metrics-gateway": filter_chains[0].filters[0].typed_config.route_specifier: value is required: set one of rds, route_config, scoped_routes (validate.required)',
    ]);
  });

  it('a bad field inside an Any typed_config', () => {
    expect(check(TYPE_URL.listener, listener({ ...goodHcm, stat_prefix: '', max_request_headers_kb: { value: 9000 } }))).toEqual([
      'Listener "metrics-gateway": filter_chains[0].filters[0].typed_config.stat_prefix: value length must be at least 1 runes (string.min_len)',
      'Listener "metrics-gateway": filter_chains[0].filters[0].typed_config.max_request_headers_kb: value must be inside range (0, 8192], got 9000 (uint32.gt, uint32.lte)',
    ]);
  });

  it('route rules: domains, header names, direct_response status, maps of metadata', () => {
    const rc = {
      name: 'metrics-gateway',
      virtual_hosts: [{
        name: 'gw',
        domains: [],
        request_headers_to_remove: ['ok', 'bad\nname'],
        routes: [{ match: { prefix: '/' }, direct_response: { status: 99 }, metadata: { filter_metadata: { '': { fields: {} } } } }],
      }],
    };
    expect(check(TYPE_URL.route, rc)).toEqual([
      'RouteConfiguration "metrics-gateway": virtual_hosts[0].domains: value must contain at least 1 item(s) (repeated.min_items)',
      'RouteConfiguration "metrics-gateway": virtual_hosts[0].routes[0].direct_response.status: value must be inside range [200, 600), got 99 (uint32.gte, uint32.lt)',
      'RouteConfiguration "metrics-gateway": virtual_hosts[0].routes[0].metadata.filter_metadata[""]: key length must be at least 1 runes (map.keys.string.min_len)',
      'RouteConfiguration "metrics-gateway": virtual_hosts[0].request_headers_to_remove[1]: value must be a valid HTTP header name (no NUL, CR or LF) (string.well_known_regex)',
    ]);
  });

  it('rejects bytes that are not the message', () => {
    expect(validateResource(TYPE_URL.cluster, new Uint8Array([0x0a, 0xff]))[0]).toMatch(/^Cluster: cannot decode as envoy.config.cluster.v3.Cluster/);
  });

  it('validates thousands of endpoints and finds the one bad port among them', () => {
    const lb = Array.from({ length: 5000 }, (_, i) => ({
      endpoint: { address: { socket_address: { address: `10.0.${i >> 8}.${i & 255}`, port_value: i === 4321 ? 65536 : 9095 } } },
    }));
    const bytes = encodeResource(TYPE_URL.endpoint, { cluster_name: 'd', endpoints: [{ locality: {}, lb_endpoints: lb }] });
    const errors = validateResource(TYPE_URL.endpoint, bytes);
    expect(errors).toEqual([
      'ClusterLoadAssignment "d": endpoints[0].lb_endpoints[4321].endpoint.address.socket_address.port_value: value must be less than or equal to 65535, got 65536 (uint32.lte)',
    ]);
  });
});

// Every PGV rule kind, through options protobufjs parses from .proto text exactly as for Envoy.
const RULES_PROTO = `
syntax = "proto3";
package t;
import "validate/validate.proto";
import "google/protobuf/duration.proto";
import "google/protobuf/timestamp.proto";
import "google/protobuf/any.proto";
import "google/protobuf/wrappers.proto";

enum Color { RED = 0; GREEN = 1; BLUE = 2; }
message Inner { string id = 1 [(validate.rules).string.min_len = 1]; }
message Skipped { string id = 1 [(validate.rules).string.min_len = 1]; }
message Off { option (validate.disabled) = true; string id = 1 [(validate.rules).string.min_len = 1]; }

message All {
  string s_len = 1 [(validate.rules).string = {min_len: 2, max_len: 4}];
  string s_bytes = 2 [(validate.rules).string = {min_bytes: 2, max_bytes: 3}];
  string s_exact = 3 [(validate.rules).string = {len: 2}];
  string s_pattern = 4 [(validate.rules).string = {pattern: "^[a-z]+$"}];
  string s_affix = 5 [(validate.rules).string = {prefix: "ab", suffix: "yz", contains: "m", not_contains: "q"}];
  string s_in = 6 [(validate.rules).string = {in: ["a", "b"]}];
  string s_not_in = 7 [(validate.rules).string = {not_in: ["x"]}];
  string s_header = 8 [(validate.rules).string = {well_known_regex: HTTP_HEADER_NAME}];
  string s_value = 9 [(validate.rules).string = {well_known_regex: HTTP_HEADER_VALUE}];
  string s_loose = 10 [(validate.rules).string = {well_known_regex: HTTP_HEADER_NAME, strict: false}];
  string s_host = 11 [(validate.rules).string.hostname = true];
  string s_ip = 12 [(validate.rules).string.ip = true];
  string s_ipv4 = 13 [(validate.rules).string.ipv4 = true];
  string s_ipv6 = 14 [(validate.rules).string.ipv6 = true];
  string s_addr = 15 [(validate.rules).string.address = true];
  bytes b_len = 16 [(validate.rules).bytes = {min_len: 1, max_len: 2}];
  int32 i_const = 17 [(validate.rules).int32.const = 5];
  int64 i64_range = 18 [(validate.rules).int64 = {gt: 0, lt: 10}];
  uint32 u_exclusive = 19 [(validate.rules).uint32 = {lt: 10, gt: 20}];
  uint64 u64_in = 20 [(validate.rules).uint64 = {in: [1, 2]}];
  sint32 si_not_in = 21 [(validate.rules).sint32 = {not_in: [3]}];
  double d_gte = 22 [(validate.rules).double = {gte: 0.5, lte: 1.5}];
  fixed64 f64_gt = 23 [(validate.rules).fixed64.gt = 9007199254740990]; // protobufjs parses option numbers as doubles: exact up to 2^53
  bool flag = 24 [(validate.rules).bool.const = true];
  Color color = 25 [(validate.rules).enum = {defined_only: true, not_in: [2]}];
  Color color_in = 26 [(validate.rules).enum = {in: [1]}];
  repeated string list = 27 [(validate.rules).repeated = {min_items: 1, max_items: 2, unique: true, items {string {min_len: 1}}}];
  map<string, Inner> m = 28 [(validate.rules).map = {min_pairs: 1, max_pairs: 1, keys {string {prefix: "k"}}}];
  google.protobuf.Duration dur = 29 [(validate.rules).duration = {required: true, gte {nanos: 1000000}, lt {seconds: 2}}];
  google.protobuf.Duration dur_in = 30 [(validate.rules).duration = {in {seconds: 1}}];
  google.protobuf.Timestamp ts = 31 [(validate.rules).timestamp = {required: true, gt {seconds: 100}}];
  google.protobuf.Any any = 32 [(validate.rules).any = {required: true, in: ["type.googleapis.com/google.protobuf.Duration"]}];
  google.protobuf.UInt32Value wrapped = 33 [(validate.rules).uint32.gte = 1];
  Inner inner = 34 [(validate.rules).message.required = true];
  Skipped skipped = 35 [(validate.rules).message.skip = true];
  Off off = 36;
  oneof choice {
    option (validate.required) = true;
    string one = 37;
    string two = 38 [(validate.rules).string.min_len = 3];
  }
  map<string, string> sparse = 39 [(validate.rules).map = {values {string {max_len: 1}}}];
  repeated Inner inners = 40;
  google.protobuf.Any envoy_any = 41;
}
`;

describe('validateMessage: every rule kind', () => {
  let All: protobuf.Type;
  beforeAll(() => {
    const root = newProtoRoot();
    root.loadSync(['validate/validate.proto', 'google/protobuf/wrappers.proto', 'google/protobuf/any.proto'], PARSE_OPTIONS);
    protobuf.parse(RULES_PROTO, root, PARSE_OPTIONS);
    root.resolveAll();
    All = root.lookupType('t.All');
  });

  const valid: PlainMessage = {
    s_len: 'abc', s_bytes: 'ab', s_exact: 'ab', s_pattern: 'abc', s_affix: 'abmyz', s_in: 'a', s_not_in: 'y',
    s_header: 'x-scope-orgid', s_value: 'v\t1', s_loose: 'Bad Name', s_host: 'mimir.svc.', s_ip: '::1', s_ipv4: '1.2.3.4',
    s_ipv6: 'fe80::1', s_addr: '10.0.0.1', b_len: 'AQ==', i_const: 5, i64_range: '9', u_exclusive: 5, u64_in: '2',
    si_not_in: 4, d_gte: 1.5, f64_gt: '18446744073709551615', flag: true, color: 'GREEN', color_in: 'GREEN',
    list: ['a', 'b'], m: { k1: { id: 'x' } }, dur: { nanos: 1000000 }, dur_in: { seconds: '1' }, ts: { seconds: 101 },
    any: { '@type': 'type.googleapis.com/google.protobuf.Duration', seconds: 1 }, wrapped: { value: 1 },
    inner: { id: 'x' }, skipped: { id: '' }, off: { id: '' }, one: '', sparse: { a: 'b' }, inners: [{ id: 'y' }],
    envoy_any: { '@type': ROUTER },
  };

  const errorsFor = (patch: PlainMessage): string[] => validateMessage(All, { ...valid, ...patch });

  it('accepts the valid message, from the object and through encode/decode', () => {
    expect(validateMessage(All, valid)).toEqual([]);
    expect(validateMessage(All, All.toObject(All.decode(All.encode(All.fromObject(valid)).finish()), { enums: String, longs: String, bytes: String, json: true }))).toEqual([]);
  });

  it.each([
    [{ s_len: 'a' }, 's_len: value length must be at least 2 runes (string.min_len)'],
    [{ s_len: 'ééééé' }, 's_len: value length must be at most 4 runes (string.max_len)'],
    [{ s_bytes: 'éé' }, 's_bytes: value length must be at most 3 bytes (string.max_bytes)'],
    [{ s_exact: 'abc' }, 's_exact: value length must be 2 runes (string.len)'],
    [{ s_pattern: 'A' }, 's_pattern: value does not match regex pattern "^[a-z]+$" (string.pattern)'],
    [{ s_affix: 'xbmyz' }, 's_affix: value does not have prefix "ab" (string.prefix)'],
    [{ s_affix: 'abmy' }, 's_affix: value does not have suffix "yz" (string.suffix)'],
    [{ s_affix: 'abyz' }, 's_affix: value does not contain substring "m" (string.contains)'],
    [{ s_affix: 'abmqyz' }, 's_affix: value contains substring "q" (string.not_contains)'],
    [{ s_in: 'c' }, 's_in: value must be in list [a, b] (string.in)'],
    [{ s_not_in: 'x' }, 's_not_in: value must not be in list [x] (string.not_in)'],
    [{ s_header: 'Bad Name' }, 's_header: value must be a valid HTTP header name (string.well_known_regex)'],
    [{ s_header: '' }, 's_header: value must be a valid HTTP header name (string.well_known_regex)'],
    [{ s_value: 'a\u0001' }, 's_value: value must be a valid HTTP header value (string.well_known_regex)'],
    [{ s_loose: 'a\r\nb' }, 's_loose: value must be a valid HTTP header name (no NUL, CR or LF) (string.well_known_regex)'],
    [{ s_host: '-bad.example' }, 's_host: value must be a valid hostname (string.hostname)'],
    [{ s_ip: 'host' }, 's_ip: value must be a valid IP address (string.ip)'],
    [{ s_ipv4: '::1' }, 's_ipv4: value must be a valid IPv4 address (string.ipv4)'],
    [{ s_ipv6: '1.2.3.4' }, 's_ipv6: value must be a valid IPv6 address (string.ipv6)'],
    [{ s_addr: 'a_b' }, 's_addr: value must be a valid hostname, or ip address (string.address)'],
    [{ b_len: 'AQID' }, 'b_len: value length must be at most 2 bytes (bytes.max_len)'],
    [{ b_len: undefined }, 'b_len: value length must be at least 1 bytes (bytes.min_len)'],
    [{ i_const: 4 }, 'i_const: value must equal 5 (int32.const)'],
    [{ i64_range: '10' }, 'i64_range: value must be inside range (0, 10), got 10 (int64.gt, int64.lt)'],
    [{ u_exclusive: 15 }, 'u_exclusive: value must be outside range [10, 20], got 15 (uint32.gt, uint32.lt)'],
    [{ u64_in: 3 }, 'u64_in: value must be in list [1, 2] (uint64.in)'],
    [{ si_not_in: 3 }, 'si_not_in: value must not be in list [3] (sint32.not_in)'],
    [{ d_gte: 0.4 }, 'd_gte: value must be inside range [0.5, 1.5], got 0.4 (double.gte, double.lte)'],
    [{ f64_gt: '9007199254740990' }, 'f64_gt: value must be greater than 9007199254740990, got 9007199254740990 (fixed64.gt)'],
    [{ flag: false }, 'flag: value must equal true (bool.const)'],
    [{ color: 7 }, 'color: value must be one of the defined enum values (enum.defined_only)'],
    [{ color: 'BLUE' }, 'color: value must not be in list [BLUE] (enum.not_in)'],
    [{ color_in: undefined }, 'color_in: value must be in list [GREEN] (enum.in)'],
    [{ list: [] }, 'list: value must contain at least 1 item(s) (repeated.min_items)'],
    [{ list: ['a', 'b', 'c'] }, 'list: value must contain no more than 2 item(s) (repeated.max_items)'],
    [{ list: ['a', 'a'] }, 'list: repeated value must contain unique items (repeated.unique)'],
    [{ list: ['a', ''] }, 'list[1]: value length must be at least 1 runes (string.min_len)'],
    [{ m: {} }, 'm: value must contain at least 1 pair(s) (map.min_pairs)'],
    [{ m: { k1: { id: 'a' }, k2: { id: 'b' } } }, 'm: value must contain no more than 1 pair(s) (map.max_pairs)'],
    [{ m: { x: { id: 'a' } } }, 'm["x"]: key does not have prefix "k" (map.keys.string.prefix)'],
    [{ m: { k: { id: '' } } }, 'm["k"].id: value length must be at least 1 runes (string.min_len)'],
    [{ sparse: { a: 'bc' } }, 'sparse["a"]: value length must be at most 1 runes (string.max_len)'],
    [{ dur: undefined }, 'dur: value is required (duration.required)'],
    [{ dur: {} }, 'dur: value must be inside range [0.001s, 2s), got 0s (duration.gte, duration.lt)'],
    [{ dur_in: { seconds: 2 } }, 'dur_in: value must be in list [1s] (duration.in)'],
    [{ ts: undefined }, 'ts: value is required (timestamp.required)'],
    [{ ts: { seconds: 100 } }, 'ts: value must be greater than 1970-01-01T00:01:40.000Z, got 1970-01-01T00:01:40.000Z (timestamp.gt)'],
    [{ any: undefined }, 'any: value is required (any.required)'],
    [{ any: { '@type': 'type.googleapis.com/google.protobuf.Timestamp' } }, 'any: type URL must be in list [type.googleapis.com/google.protobuf.Duration] (any.in)'],
    [{ wrapped: { value: 0 } }, 'wrapped: value must be greater than or equal to 1, got 0 (uint32.gte)'],
    [{ wrapped: {} }, 'wrapped: value must be greater than or equal to 1, got 0 (uint32.gte)'],
    [{ inner: undefined }, 'inner: value is required (message.required)'],
    [{ inner: { id: '' } }, 'inner.id: value length must be at least 1 runes (string.min_len)'],
    [{ inners: [{ id: 'a' }, {}] }, 'inners[1].id: value length must be at least 1 runes (string.min_len)'],
    [{ one: undefined }, 'choice: value is required: set one of one, two (validate.required)'],
    [{ one: undefined, two: 'ab' }, 'two: value length must be at least 3 runes (string.min_len)'],
    [{ envoy_any: { '@type': 'type.googleapis.com/envoy.config.core.v3.SocketAddress', address: '1.2.3.4' } },
      'envoy_any.port_specifier: value is required: set one of port_value, named_port (validate.required)'],
  ])('%o', (patch, expected) => {
    expect(errorsFor(patch)).toEqual([expected]);
  });

  it('leaves unset message fields, wrappers and oneof members alone unless required', () => {
    expect(errorsFor({ wrapped: undefined, skipped: undefined, off: undefined, inners: undefined, envoy_any: undefined })).toEqual([]);
  });
});
