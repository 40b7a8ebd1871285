import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, renameSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { CLI } from './support/cli.js';
import { appliedVersion, eventually, startGateway, type RunningGateway } from './support/gateway.js';
import { HttpBackend } from './support/http-backend.js';

// Broken configuration, at startup (the built binary: exact message, exit 1, no stack trace) and
// at runtime (the embedded control plane watching -config.file: the last good config keeps serving
// and the problem shows in /control-plane/api/v1/status until the file is fixed).
// test/cli.test.ts has the first ~15 startup cases; these are the rest.

const dir = mkdtempSync(join(tmpdir(), 'mgw-bad-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Case = [name: string, yaml: string | undefined, args: string[], message: string];

const proxy = (block: string): string => `gateway:\n  proxy:\n${block}`;

const STARTUP: Case[] = [
  // YAML that does not parse, of several kinds.
  ['a tab as indentation', 'gateway:\n\tproxy: {}\n', [], 'FILE:2:1: invalid YAML: Tabs are not allowed as indentation'],
  ['an unclosed quote', proxy('    default: { url: "http://a:1 }\n'), [], 'FILE:4:1: invalid YAML: Missing closing "quote'],
  ['a key given twice', 'gateway:\n  proxy: {}\n  proxy: {}\n', [], 'FILE:3:3: invalid YAML: Map keys must be unique'],
  ['two documents', 'gateway: {}\n---\ntarget: all\n', [], 'FILE:2:1: invalid YAML: the file holds more than one document (a "---" line); keep one'],
  ['a key out of line', proxy('    default:\n      url: http://a:1\n     timeout: 5s\n'), [], 'FILE:5:1: invalid YAML: All mapping items must start at the same column'],
  ['a key without a colon', 'gateway\n  proxy: {}\n', [], 'FILE:1:1: invalid YAML: Implicit keys need to be on a single line'],
  ['an alias with no anchor', 'gateway: *defaults\n', [], 'FILE:1:10: invalid YAML: alias *defaults names no anchor'],
  ['a list as the whole document', '- gateway\n- server\n', [], 'FILE:1:1: the document: expected a mapping of keys, got a list'],

  // Unknown keys, at each level.
  ['unknown top-level key', 'gatway:\n  proxy: {}\n', [], 'FILE:1:1: unknown key "gatway"; did you mean "gateway"? valid keys: target, server, api, gateway, control_plane, auth'],
  [
    'unknown key under server',
    'server:\n  http_listen_prot: 80\n',
    [],
    'FILE:2:3: unknown key "server.http_listen_prot"; did you mean "http_listen_port"? valid keys under server: http_listen_address, http_listen_port, grpc_listen_address, grpc_listen_port, http_max_request_body_bytes, http_read_header_timeout, http_idle_timeout, http_tls_config, tls_min_version, tls_cipher_suites, grpc_tls_config, graceful_shutdown_timeout, log_level, log_format, workers',
  ],
  [
    'unknown key in a backend block',
    proxy('    ruler:\n      timout: 5s\n'),
    [],
    'FILE:4:7: unknown key "gateway.proxy.ruler.timout"; did you mean "timeout"? valid keys under gateway.proxy.ruler: url, enable_keepalive, timeout, tls_enabled, tls_ca_path, tls_cert_path, tls_key_path, tls_server_name, tls_insecure_skip_verify, load_balancing, outlier_detection, zones, zone_aware',
  ],
  [
    'unknown key under gateway.xds (a shortened name)',
    'gateway:\n  xds:\n    server: cp:9095\n',
    [],
    'FILE:3:5: unknown key "gateway.xds.server"; did you mean "server_address"? valid keys under gateway.xds: server_address, node_id, cluster, locality_region, locality_zone, tls_enabled, tls_cert_path, tls_key_path, tls_ca_path, tls_server_name',
  ],
  [
    'unknown key under control_plane.dns',
    'control_plane:\n  dns:\n    period: 1s\n',
    [],
    'FILE:3:5: unknown key "control_plane.dns.period"; did you mean "lookup_period"? valid keys under control_plane.dns: lookup_period',
  ],

  // Backend URLs, http and dns forms.
  ['a host:port without a scheme', proxy('    distributor: { url: "distributor:9095" }\n'), [], 'FILE:3:25: gateway.proxy.distributor.url: "distributor:9095" is not a URL; use http://host:port, https://host:port or dns:///host:port'],
  [
    '${VAR} without -config.expand-env',
    proxy('    default: { url: "${GATEWAY_URL}" }\n'),
    [],
    'FILE:3:21: gateway.proxy.default.url: "${GATEWAY_URL}" is not a URL; use http://host:port, https://host:port or dns:///host:port; ${VAR} is expanded only with -config.expand-env',
  ],
  ['a query string', proxy('    default: { url: "http://a:80/?x=1" }\n'), [], 'FILE:3:21: gateway.proxy.default.url: "http://a:80/?x=1" has a query or fragment; a backend url is scheme://host:port[/path]'],
  ['credentials', proxy('    default: { url: "http://user:pw@a:80" }\n'), [], 'FILE:3:21: gateway.proxy.default.url: "http://user:pw@a:80" has credentials in it; backends are reached without user info'],
  ['a port that is a word', proxy('    default: { url: "http://a:http" }\n'), [], 'FILE:3:21: gateway.proxy.default.url: port "http" in "http://a:http" is not a number'],
  ['IPv6 without brackets', proxy('    default: { url: "http://::1:8080" }\n'), [], 'FILE:3:21: gateway.proxy.default.url: "http://::1:8080": an IPv6 address goes in brackets, e.g. http://[::1]:8080'],
  ['dns:/// and nothing else', proxy('    distributor: { url: "dns:///" }\n'), [], 'FILE:3:25: gateway.proxy.distributor.url: "dns:///" names no host; use dns:///host:port'],
  ['a DNS server and no name', proxy('    distributor: { url: "dns://127.0.0.1:53/" }\n'), [], 'FILE:3:25: gateway.proxy.distributor.url: "dns://127.0.0.1:53/" names no host; use dns:///host:port'],
  ['a DNS name with a bad character', proxy('    distributor: { url: "dns:///distri!butor:9095" }\n'), [], 'FILE:3:25: gateway.proxy.distributor.url: "dns:///distri!butor:9095": "distri!butor" is not a valid DNS name or IP address'],
  ['a dns port out of range', proxy('    distributor: { url: "dns:///distributor:70000" }\n'), [], 'FILE:3:25: gateway.proxy.distributor.url: port 70000 in "dns:///distributor:70000" is out of range 1-65535'],
  ['a dns port that is a word', proxy('    distributor: { url: "dns:///distributor:grpc" }\n'), [], 'FILE:3:25: gateway.proxy.distributor.url: port "grpc" in "dns:///distributor:grpc" is not a number'],
  [
    'a dns IPv6 address without brackets',
    proxy('    distributor: { url: "dns:///::1:9095" }\n'),
    [],
    'FILE:3:25: gateway.proxy.distributor.url: "dns:///::1:9095" has no port; the gRPC port is required, e.g. dns:///[::1:9095]:9095 (an IPv6 address goes in brackets)',
  ],

  // Durations.
  ['a duration in words', proxy('    ruler: { timeout: 5 minutes }\n'), [], 'FILE:3:23: gateway.proxy.ruler.timeout: expected a duration such as 300s, 5m or 1m30s, got "5 minutes"'],
  ['a negative duration', proxy('    ruler: { timeout: -5s }\n'), [], 'FILE:3:23: gateway.proxy.ruler.timeout: expected a duration such as 300s, 5m or 1m30s, got "-5s"'],
  ['a zero timeout', proxy('    ruler: { timeout: 0 }\n'), [], 'FILE:3:23: gateway.proxy.ruler.timeout: must be greater than 0, got 0'],
  ['days (Go durations stop at hours)', 'server:\n  http_idle_timeout: 1d\n', [], 'FILE:2:22: server.http_idle_timeout: expected a duration such as 300s, 5m or 1m30s, got "1d"'],
  ['a DNS lookup period under 1s', 'control_plane:\n  dns:\n    lookup_period: 500ms\n', [], 'FILE:3:20: control_plane.dns.lookup_period: must be at least 1s (DNS is never asked more often), got 500ms'],
  ['a duration flag without a unit', undefined, ['-gateway.proxy.ruler.timeout=10'], 'invalid value "10" for -gateway.proxy.ruler.timeout: expected a duration such as 300s, 5m or 1m30s, got "10"'],

  // Booleans.
  ['a bool that is a word', proxy('    ruler: { enable_keepalive: maybe }\n'), [], 'FILE:3:32: gateway.proxy.ruler.enable_keepalive: expected true or false, got "maybe"'],
  ['a bool that is a number', proxy('    ruler: { tls_insecure_skip_verify: 2 }\n'), [], 'FILE:3:40: gateway.proxy.ruler.tls_insecure_skip_verify: expected true or false, got 2'],
  ['a bool meta flag', undefined, ['-config.expand-env=maybe'], 'invalid boolean value "maybe" for -config.expand-env: use true or false'],

  // Wrong types.
  ['a list where a mapping belongs', proxy('    - default\n'), [], 'FILE:3:5: gateway.proxy: expected a mapping of keys, got a list'],
  ['a url where a backend block belongs', proxy('    ruler: http://ruler:8080\n'), [], 'FILE:3:12: gateway.proxy.ruler: expected a mapping of keys, got "http://ruler:8080"'],
  ['a list of urls', proxy('    ruler:\n      url: [http://a:1, http://b:1]\n'), [], 'FILE:4:12: gateway.proxy.ruler.url: expected a string value, got a list'],
  ['a mapping as a url', proxy('    ruler:\n      url: { host: a }\n'), [], 'FILE:4:12: gateway.proxy.ruler.url: expected a string value, got a mapping'],
  ['a port with letters', 'server:\n  http_listen_port: "80x"\n', [], 'FILE:2:21: server.http_listen_port: expected an integer, got "80x"'],
  ['a fractional port', 'server:\n  http_listen_port: 8080.5\n', [], 'FILE:2:21: server.http_listen_port: expected an integer, got 8080.5'],
  ['a byte count with a bad unit', 'server:\n  http_max_request_body_bytes: 10XB\n', [], 'FILE:2:32: server.http_max_request_body_bytes: expected a byte count such as 104857600 or 100MiB, got "10XB"'],

  // Out-of-range and unknown values.
  ['a listen port above 65535', 'server:\n  http_listen_port: 70000\n', [], 'FILE:2:21: server.http_listen_port: must be a port 0-65535, got 70000'],
  ['a negative gRPC port', 'server:\n  grpc_listen_port: -1\n', [], 'FILE:2:21: server.grpc_listen_port: must be a port 0-65535, got -1'],
  ['a listen port flag above 65535', undefined, ['-server.http-listen-port=65536'], 'flags: server.http_listen_port: must be a port 0-65535, got 65536'],
  ['a zero gRPC message limit', 'gateway:\n  grpc_max_message_bytes: 0\n', [], 'FILE:2:27: gateway.grpc_max_message_bytes: must be greater than 0, got 0'],
  ['an unknown log level', 'server:\n  log_level: verbose\n', [], 'FILE:2:14: server.log_level: must be one of debug, info, warn, error; got "verbose"'],
  ['a prefix without a slash', 'api:\n  prometheus_http_prefix: prometheus\n', [], 'FILE:2:27: api.prometheus_http_prefix: must start with "/" and hold no spaces, "?" or "#"'],
  ['an unknown -gateway.httpgrpc-client', undefined, ['-gateway.httpgrpc-client=nghttp2'], 'flags: gateway.httpgrpc_client: must be one of socket, node-http2; got "nghttp2"'],
  ['a misspelt -target', undefined, ['-target=gatewy'], 'flags: target: must be one of gateway, control-plane, all; got "gatewy"'],
  ['an unknown target in the file', 'target: everything\n', [], 'FILE:1:9: target: must be one of gateway, control-plane, all; got "everything"'],

  // Environment expansion and the command line itself.
  [
    'an unset ${VAR} without a default',
    proxy('    default: { url: "http://${GW_TEST_UNSET_HOST}:8080" }\n'),
    ['-config.expand-env'],
    'FILE:3:29: ${GW_TEST_UNSET_HOST} is not set in the environment and has no default; set GW_TEST_UNSET_HOST or write ${GW_TEST_UNSET_HOST:default}',
  ],
  ['a directory as the config file', undefined, [`-config.file=${dir}`], `${dir}: cannot read config file: is a directory`],
  ['a flag without its value', undefined, ['-config.file'], 'flag needs an argument: -config.file'],
  ['a bare word', undefined, ['gateway.yaml'], 'unexpected argument "gateway.yaml"; flags look like -name=value'],
  [
    'several problems at once: all of them, one per line',
    'server:\n  http_listen_port: 70000\n' + proxy('    ruler: { url: "ftp://r:1", timeout: soon }\n'),
    [],
    'FILE:2:21: server.http_listen_port: must be a port 0-65535, got 70000\n' +
      'FILE:5:19: gateway.proxy.ruler.url: scheme "ftp" in "ftp://r:1" is not supported; use http://, https:// or dns:/// (httpgrpc)\n' +
      'FILE:5:41: gateway.proxy.ruler.timeout: expected a duration such as 300s, 5m or 1m30s, got "soon"',
  ],
];

interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** The built binary, without a shell; killed after 20 s. */
function runBinary(args: readonly string[]): Promise<CliResult> {
  const env = { ...process.env };
  delete env['GW_TEST_UNSET_HOST'];
  const proc = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 20_000 });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => proc.once('close', (code) => resolve({ code, stdout, stderr })));
}

describe('broken config at startup: exact message, exit status 1, no stack trace', () => {
  const results = new Map<string, CliResult>();
  const fileOf = (name: string): string => join(dir, `${name.replace(/[^a-z0-9]+/gi, '-')}.yaml`);

  // Each start loads the whole binary (~0.7 s of CPU), so the cases run side by side.
  beforeAll(async () => {
    const queue = [...STARTUP];
    const worker = async (): Promise<void> => {
      for (let c = queue.shift(); c !== undefined; c = queue.shift()) {
        const [name, yaml, args] = c;
        if (yaml !== undefined) writeFileSync(fileOf(name), yaml);
        results.set(name, await runBinary(yaml !== undefined ? [`-config.file=${fileOf(name)}`, ...args] : args));
      }
    };
    await Promise.all(Array.from({ length: Math.max(2, availableParallelism()) }, worker));
  }, 600_000); // many processes: generous for a machine whose cores are all busy

  it('covers at least 20 cases', () => expect(STARTUP.length).toBeGreaterThanOrEqual(20));

  it.each(STARTUP)('%s', (name, _yaml, _args, message) => {
    const r = results.get(name)!;
    expect(r.stderr).toBe(`error: ${message.replaceAll('FILE', fileOf(name))}\n`);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
  });
});

describe('YAML that GEM reads is read the same way', () => {
  it('anchors, aliases and merge keys', async () => {
    const file = join(dir, 'anchors.yaml');
    writeFileSync(
      file,
      'gateway:\n  proxy:\n    default: &backend { url: "http://127.0.0.9:1", timeout: 60s }\n    ingester: *backend\n' +
        '    ruler:\n      <<: *backend\n      url: http://127.0.0.10:1\n',
    );
    const gw = await startGateway([`-config.file=${file}`]);
    try {
      const yaml = await (await request(`${gw.url}/config`)).body.text();
      expect(yaml).toMatch(/ ruler:\n\s+url: http:\/\/127\.0\.0\.10:1\n\s+enable_keepalive: true\n\s+timeout: 1m\n/);
      expect(yaml).toMatch(/ ingester:\n\s+url: http:\/\/127\.0\.0\.9:1\n\s+enable_keepalive: true\n\s+timeout: 1m\n/);
    } finally {
      await gw.stop();
    }
  });
});

describe('broken config at runtime: the last good config keeps serving', () => {
  const file = join(dir, 'live', 'gateway.yaml');
  let a: HttpBackend;
  let b: HttpBackend;
  let gw: RunningGateway;

  const config = (qf: HttpBackend): string => proxy(`    default: { url: "${a.url}" }\n    query_frontend: { url: "${qf.url}" }\n`);

  interface ConfigStatus {
    readonly loadedAtMs: number;
    readonly lastError: { readonly message: string; readonly atMs: number } | null;
  }
  async function configStatus(): Promise<ConfigStatus> {
    const res = await request(`${gw.url}/control-plane/api/v1/status`);
    return ((await res.body.json()) as { config: ConfigStatus }).config;
  }
  async function queryGoesTo(): Promise<string> {
    const res = await request(`${gw.url}/prometheus/api/v1/query?query=up`);
    expect(res.statusCode).toBe(200);
    return ((await res.body.json()) as { backend: string }).backend;
  }
  /** Waits for the watcher to report `message`, then checks nothing changed for requests. */
  async function expectRejected(message: string, version: string, backend: string): Promise<void> {
    await eventually(async () => (await configStatus()).lastError?.message === message, `config.lastError = ${message}`, 5000, 50);
    expect(await appliedVersion(gw.url)).toBe(version);
    for (let i = 0; i < 5; i++) expect(await queryGoesTo()).toBe(backend);
  }
  async function expectRecovered(version: (v: string) => boolean, backend: string): Promise<void> {
    await eventually(async () => (await configStatus()).lastError === null, 'config.lastError cleared', 5000, 50);
    await eventually(async () => version(await appliedVersion(gw.url)), 'the applied version', 5000, 50);
    expect(await queryGoesTo()).toBe(backend);
  }

  beforeAll(async () => {
    a = await HttpBackend.start('a', '127.0.0.2');
    b = await HttpBackend.start('b', '127.0.0.3');
    mkdirSync(join(dir, 'live'));
    writeFileSync(file, config(a));
    gw = await startGateway([`-config.file=${file}`]);
  });
  afterAll(async () => {
    await gw?.stop();
    await Promise.all([a?.close(), b?.close()]);
  });

  it('invalid edits of several kinds are refused with their message; a fixed file is applied', async () => {
    const good = await appliedVersion(gw.url);
    expect(await queryGoesTo()).toBe('a');
    const edits: Array<[string, string]> = [
      [proxy('    query_frontend: { url: "http://b:1 }\n'), `${file}:4:1: invalid YAML: Missing closing "quote`],
      [proxy(`    query_frontend:\n      url: ${b.url}\n      timout: 5s\n`), `${file}:5:7: unknown key "gateway.proxy.query_frontend.timout"; did you mean "timeout"? valid keys under gateway.proxy.query_frontend: url, enable_keepalive, timeout, tls_enabled, tls_ca_path, tls_cert_path, tls_key_path, tls_server_name, tls_insecure_skip_verify, load_balancing, outlier_detection, zones, zone_aware`],
      [proxy('    query_frontend: { url: "dns://query-frontend:9095" }\n'), `${file}:3:28: gateway.proxy.query_frontend.url: "dns://query-frontend:9095" has two slashes, so "query-frontend:9095" would be read as the DNS server; use dns:///query-frontend:9095 (RFC 4501: three slashes for the system resolver)`],
      ['server:\n  http_listen_port: 70000\n', `${file}:2:21: server.http_listen_port: must be a port 0-65535, got 70000`],
    ];
    for (const [text, message] of edits) {
      writeFileSync(file, text);
      await expectRejected(message, good, 'a');
    }
    const failures = await (await request(`${gw.url}/metrics`)).body.text();
    expect(failures).toMatch(/^control_plane_config_reloads_total\{outcome="failure"\} [4-9]/m);

    writeFileSync(file, config(b));
    await expectRecovered((v) => v !== good, 'b');
    writeFileSync(file, config(a));
    await expectRecovered((v) => v === good, 'a');
  });

  it('a file that vanishes (renamed away) keeps the config; its return is picked up', async () => {
    const good = await appliedVersion(gw.url);
    const before = (await configStatus()).loadedAtMs;
    renameSync(file, `${file}.moved`);
    await expectRejected(`${file}: cannot read config file: no such file`, good, 'a');
    renameSync(`${file}.moved`, file);
    await expectRecovered((v) => v === good, 'a');
    expect((await configStatus()).loadedAtMs).toBeGreaterThan(before);
  });

  // Tests run as root in CI, and chmod 000 does not stop root from reading, so an unreadable file
  // is made the other way: a directory takes its name (EISDIR is what reading it then fails with).
  it('a file that becomes unreadable (a directory in its place) keeps the config; a readable one is applied', async () => {
    const good = await appliedVersion(gw.url);
    rmSync(file);
    mkdirSync(file);
    try {
      await expectRejected(`${file}: cannot read config file: is a directory`, good, 'a');
    } finally {
      rmdirSync(file);
    }
    writeFileSync(file, config(b));
    await expectRecovered((v) => v !== good, 'b');
    writeFileSync(file, config(a));
    await expectRecovered((v) => v === good, 'a');
  });

  it.skipIf(process.getuid?.() === 0)('a file made unreadable with chmod 000 (only when not root)', async () => {
    const good = await appliedVersion(gw.url);
    chmodSync(file, 0o000);
    try {
      await expectRejected(`${file}: cannot read config file: permission denied`, good, 'a');
    } finally {
      chmodSync(file, 0o644);
    }
    await expectRecovered((v) => v === good, 'a');
  });
});
