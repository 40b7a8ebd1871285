// The gateway's front door over HTTPS (-server.http-tls-*), with real clients: Debian's Prometheus
// remote-writing with tls_config and basic_auth through the gateway to httpgrpc distributors (found
// through DNS), without and then with a required client certificate; certificates rotated while
// clients keep sending; certificates that cannot be used at start; the control plane's own HTTP port.
//
// Needs the prometheus binary (Debian package `prometheus`, or $PROMETHEUS_BIN) for the first two
// tests; they skip without it, except in CI ($CI set), where they fail.

import { readFileSync, renameSync, writeFileSync, copyFileSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { pino } from 'pino';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadConfig } from '../app/config.js';
import { buildModules } from '../app/modules.js';
import { makeCertAuthority, type CertAuthority, type IssuedCert } from './support/certs.js';
import { cleanupsAfterEach } from './support/cleanups.js';
import { DemoCluster } from './support/demo-cluster.js';
import { WatchedConfig, type AppliedConfig } from './support/fleet.js';
import { TEST_SERVER_FLAGS } from './support/gateway.js';
import { HttpBackend } from './support/http-backend.js';
import { eventually } from './support/poll.js';
import { findPrometheus, remoteWriteCounters, startPrometheus, testQueueConfig } from './support/prometheus.js';
import { ScrapeTarget } from './support/scrape-target.js';
import { mintTestToken, tokensYaml } from './support/tokens.js';

const PROMETHEUS = findPrometheus();
const IN_CI = !['', '0', 'false'].includes((process.env['CI'] ?? '').toLowerCase());
const SERIES = 100;
const TENANT = 'team-a';

const cleanups = cleanupsAfterEach();
let ca: CertAuthority;
let serverCert: IssuedCert;
let clientCert: IssuedCert;

beforeAll(() => {
  ca = makeCertAuthority('front door CA');
  serverCert = ca.issue('gateway', { ips: ['127.0.0.1'], dns: ['gateway.test'] });
  clientCert = ca.issue('prometheus', { dns: ['prometheus'] });
});
afterAll(() => ca.cleanup());

interface HttpsGateway {
  readonly url: string;
  readonly logs: string[];
  readonly agent: Agent;
}

/** The process as the CLI builds it, HTTPS on port 0, its log kept (JSON lines). */
async function startHttps(args: readonly string[], agentCert?: IssuedCert): Promise<HttpsGateway> {
  const logs: string[] = [];
  const cfg = loadConfig([...TEST_SERVER_FLAGS, ...args]);
  const modules = buildModules(cfg, pino({ level: 'info' }, { write: (l: string) => void logs.push(l) }));
  await modules.start();
  cleanups.push(() => modules.stop());
  const port = Number(modules.addresses()['http']!.split(':').pop());
  const agent = new Agent({
    connect: { ca: readFileSync(ca.caPath), ...(agentCert ? { cert: readFileSync(agentCert.certPath), key: readFileSync(agentCert.keyPath) } : {}) },
  });
  cleanups.push(() => agent.close());
  return { url: `https://127.0.0.1:${port}`, logs, agent };
}

async function readyDistributors(gw: HttpsGateway): Promise<number> {
  const res = await request(`${gw.url}/gateway/api/v1/config`, { dispatcher: gw.agent });
  const body = (await res.body.json()) as AppliedConfig;
  return body.applied?.upstreams.find((u) => u.backend === 'distributor')?.endpoints?.filter((e) => e.state === 'READY').length ?? 0;
}

const tlsFlags = (c: IssuedCert): string[] => [`-server.http-tls-cert-path=${c.certPath}`, `-server.http-tls-key-path=${c.keyPath}`];

/**
 * Prometheus scrapes SERIES series for a few rounds and remote-writes them to the gateway over HTTPS
 * with basic_auth; returns its remote-write counters once its queue has drained.
 */
async function pushWithPrometheus(gwUrl: string, password: string, tls: string[], cluster: DemoCluster): Promise<ReturnType<typeof remoteWriteCounters>> {
  const target = await ScrapeTarget.start({ host: '127.0.0.10', series: SERIES });
  cleanups.push(() => target.close());
  const yaml = (scrape: boolean): string =>
    [
      'global:',
      '  scrape_interval: 1s',
      '  scrape_timeout: 1s',
      ...(scrape ? ['scrape_configs:', '  - job_name: synthetic', '    static_configs:', `      - targets: ['${target.address}']`] : ['scrape_configs: []']),
      'remote_write:',
      `  - url: ${gwUrl}/api/v1/push`,
      '    remote_timeout: 10s',
      '    tls_config:',
      ...tls.map((l) => `      ${l}`),
      '    basic_auth:',
      `      username: ${TENANT}`,
      `      password: ${password}`,
      ...testQueueConfig(2),
      '',
    ].join('\n');
  const prom = await startPrometheus({ binary: PROMETHEUS!, config: yaml(true), args: ['--storage.remote.flush-deadline=5s'] });
  cleanups.push(() => prom.stop());
  await eventually(() => cluster.received().unique >= 3 * SERIES, 'three scrapes of samples at the distributors', 60_000, 100);
  await prom.reload(yaml(false));
  let last = '';
  let stableSince = Date.now();
  await eventually(
    async () => {
      const c = remoteWriteCounters(await prom.metrics());
      const key = JSON.stringify(c);
      if (key !== last) stableSince = Date.now();
      last = key;
      return c.pending === 0 && Date.now() - stableSince >= 2000;
    },
    'Prometheus to drain its queue',
    30_000,
    250,
  );
  return remoteWriteCounters(await prom.metrics());
}

async function tokenGateway(cluster: DemoCluster, extra: readonly string[], agentCert?: IssuedCert): Promise<{ gw: HttpsGateway; secret: string }> {
  const writer = mintTestToken('prometheus', [TENANT], ['metrics:write']);
  const tokens = new WatchedConfig(tokensYaml([writer]), 'tokens.yaml');
  cleanups.push(() => tokens.remove());
  const config = new WatchedConfig(`gateway:\n  proxy:\n    distributor:\n      url: ${cluster.url}\nauth:\n  type: token\n  tokens_file: ${tokens.file}\n`);
  cleanups.push(() => config.remove());
  const gw = await startHttps([`-config.file=${config.file}`, '-control-plane.dns.lookup-period=1s', ...tlsFlags(serverCert), ...extra], agentCert);
  await eventually(async () => (await readyDistributors(gw)) === 2, 'two READY distributors', 10_000, 50);
  return { gw, secret: writer.secret };
}

function needPrometheus(ctx: { skip: (note?: string) => void }): void {
  if (PROMETHEUS !== undefined) return;
  if (IN_CI) throw new Error('the prometheus binary is missing; CI installs the Debian package `prometheus`');
  ctx.skip('prometheus binary not found (apt-get install prometheus, or set PROMETHEUS_BIN)');
}

it('Prometheus remote-writes over HTTPS (tls_config.ca_file, basic_auth) through the gateway to httpgrpc distributors: 0 failed samples', async (ctx) => {
  needPrometheus(ctx);
  const cluster = await DemoCluster.start(['127.0.0.2', '127.0.0.3']);
  cleanups.push(() => cluster.close());
  const { gw, secret } = await tokenGateway(cluster, []);
  const c = await pushWithPrometheus(gw.url, secret, [`ca_file: ${ca.caPath}`], cluster);
  const received = cluster.received();
  const summary = JSON.stringify({ c, unique: received.unique, tenants: [...received.tenants] });
  expect(c.failed, summary).toBe(0);
  expect(c.sent, summary).toBeGreaterThanOrEqual(3 * SERIES);
  expect(received.unique, summary).toBe(c.sent);
  expect([...received.tenants.keys()], summary).toEqual([TENANT]);
}, 120_000);

it('client certificates required: Prometheus with one remote-writes with 0 failed samples, a client without one is refused and logged', async (ctx) => {
  needPrometheus(ctx);
  const cluster = await DemoCluster.start(['127.0.0.2', '127.0.0.3']);
  cleanups.push(() => cluster.close());
  const { gw, secret } = await tokenGateway(
    cluster,
    [`-server.http-tls-ca-path=${ca.caPath}`, '-server.http-tls-client-auth=RequireAndVerifyClientCert'],
    clientCert,
  );
  const c = await pushWithPrometheus(gw.url, secret, [`ca_file: ${ca.caPath}`, `cert_file: ${clientCert.certPath}`, `key_file: ${clientCert.keyPath}`], cluster);
  expect(c.failed, JSON.stringify(c)).toBe(0);
  expect(cluster.received().unique, JSON.stringify(c)).toBe(c.sent);
  // No certificate: refused in the handshake (curl's side is test/tls-client-auth.test.ts).
  const bare = new Agent({ connect: { ca: readFileSync(ca.caPath) } });
  cleanups.push(() => bare.close());
  await expect(request(`${gw.url}/api/v1/push`, { method: 'POST', body: 'x', dispatcher: bare })).rejects.toThrow();
  await eventually(() => gw.logs.some((l) => l.includes('the client sent no certificate')), 'the refusal in the log', 5000);
}, 120_000);

/** The serial number of the certificate a new connection is served. */
function servedSerial(url: string): Promise<string> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port: Number(port), ca: readFileSync(ca.caPath), ALPNProtocols: ['http/1.1'] }, () => {
      const serial = s.getPeerCertificate().serialNumber;
      expect(s.alpnProtocol).toBe('http/1.1');
      s.end();
      resolve(serial);
    });
    s.once('error', reject);
  });
}

it('certificates rotated under load: new connections get the new certificate, open ones stay, a broken rotation keeps the last good one; 0 failed requests', async () => {
  const backend = await HttpBackend.start('default');
  cleanups.push(() => backend.close());
  // The files as a Secret mount shows them: the gateway reads cert.pem/key.pem, rotation renames over them.
  const dir = ca.dir;
  const cert = join(dir, 'live.pem');
  const key = join(dir, 'live.key');
  copyFileSync(serverCert.certPath, cert);
  copyFileSync(serverCert.keyPath, key);
  const gw = await startHttps([`-gateway.proxy.default.url=${backend.url}`, `-server.http-tls-cert-path=${cert}`, `-server.http-tls-key-path=${key}`]);
  const first = await servedSerial(gw.url);
  // One connection opened before the rotation, used again after it.
  const { port } = new URL(gw.url);
  const early = tlsConnect({ host: '127.0.0.1', port: Number(port), ca: readFileSync(ca.caPath) });
  cleanups.push(() => void early.destroy());
  await once(early, 'secureConnect');
  const onEarly = async (): Promise<string> => {
    const answer = once(early, 'data');
    early.write('GET /early HTTP/1.1\r\nHost: gateway.test\r\n\r\n');
    return String((await answer)[0]).split('\r\n')[0]!;
  };
  expect(await onEarly()).toBe('HTTP/1.1 200 OK');

  // Load: 4 keep-alive clients on long-lived connections, 2 opening a new connection per request.
  let stop = false;
  let ok = 0;
  const failures: string[] = [];
  const fresh = new Agent({ connect: { ca: readFileSync(ca.caPath) }, pipelining: 0 });
  cleanups.push(() => fresh.close());
  const loop = async (dispatcher: Agent, close: boolean): Promise<void> => {
    for (let i = 0; i < 20_000 && !stop; i++) {
      try {
        const r = await request(`${gw.url}/anything/${i}`, { dispatcher, ...(close ? { headers: { connection: 'close' } } : {}) });
        await r.body.dump();
        if (r.statusCode === 200) ok++;
        else failures.push(`HTTP ${r.statusCode}`);
      } catch (err) {
        failures.push((err as Error).message);
      }
    }
  };
  const clients = [...[1, 2, 3, 4].map(() => loop(gw.agent, false)), ...[1, 2].map(() => loop(fresh, true))];
  try {
    await eventually(() => ok > 200, 'load flowing', 20_000);
    // Rotation: a new pair from the same CA, each file renamed into place (the poller may see the
    // new certificate with the old key in between: that is logged and the old pair kept).
    const next = ca.issue('gateway-next', { ips: ['127.0.0.1'] });
    writeFileSync(`${cert}.tmp`, readFileSync(next.certPath));
    writeFileSync(`${key}.tmp`, readFileSync(next.keyPath));
    renameSync(`${key}.tmp`, key);
    renameSync(`${cert}.tmp`, cert);
    await eventually(() => gw.logs.some((l) => l.includes('TLS certificates reloaded')), 'the reload in the log', 30_000, 100);
    const second = await servedSerial(gw.url);
    expect(second).not.toBe(first);
    // The connection from before the rotation is still up, on its certificate.
    expect(await onEarly()).toBe('HTTP/1.1 200 OK');
    expect(early.getPeerCertificate().serialNumber).toBe(first);
    const okAtRotation = ok;
    await eventually(() => ok > okAtRotation + 200, 'load still flowing after the rotation', 20_000);
    // A broken rotation: the certificate file is cut short. Logged; the last good pair stays.
    writeFileSync(cert, readFileSync(next.certPath, 'utf8').slice(0, 200));
    await eventually(() => gw.logs.some((l) => l.includes('cannot be used; keeping the previous certificates')), 'the broken rotation in the log', 30_000, 100);
    expect(await servedSerial(gw.url)).toBe(second);
    const okAtBreak = ok;
    await eventually(() => ok > okAtBreak + 200, 'load still flowing after the broken rotation', 20_000);
  } finally {
    stop = true;
    await Promise.all(clients);
  }
  expect(failures.slice(0, 5), `${failures.length} failed of ${ok + failures.length}`).toEqual([]);
  expect(backend.received.filter((r) => r.url.startsWith('/anything/')).length).toBe(ok);
}, 120_000);

it('a certificate that cannot be used at start is a clear error naming the flag, file and fix', () => {
  const expired = ca.issue('expired-server', { ips: ['127.0.0.1'] }, -1);
  const other = ca.issue('other-server', { ips: ['127.0.0.1'] });
  const build = (args: string[]): string => {
    try {
      buildModules(loadConfig(['-gateway.proxy.default.url=http://127.0.0.1:1', ...args]), pino({ level: 'silent' }));
      return 'started';
    } catch (err) {
      return (err as Error).message;
    }
  };
  expect(build(tlsFlags(expired))).toMatch(new RegExp(`^-server.http-tls-cert-path: ${expired.certPath}: the certificate expired on .*; renew it$`));
  expect(build([`-server.http-tls-cert-path=${serverCert.certPath}`, `-server.http-tls-key-path=${other.keyPath}`])).toBe(
    `-server.http-tls-key-path: ${other.keyPath}: is not the private key of the certificate in ${serverCert.certPath} (-server.http-tls-cert-path)`,
  );
  expect(build([`-server.http-tls-cert-path=${serverCert.certPath}`])).toMatch(/^-server.http-tls-key-path is not set/);
  expect(build([...tlsFlags(serverCert), '-server.http-tls-client-auth=VerifyClientCertIfGiven'])).toBe(
    '-server.http-tls-client-auth=VerifyClientCertIfGiven verifies client certificates: set -server.http-tls-ca-path to the CA that signs them',
  );
  expect(build([...tlsFlags(serverCert), `-server.http-tls-ca-path=${ca.caPath}`, '-server.http-tls-client-auth=NoClientCert'])).toBe(
    `-server.http-tls-ca-path is set but -server.http-tls-client-auth=NoClientCert asks for no client certificate: drop the CA or pick a client auth type`,
  );
  expect(build([`-server.http-tls-ca-path=${ca.caPath}`])).toBe('-server.http-tls-ca-path needs TLS on the HTTP server: set -server.http-tls-cert-path and -server.http-tls-key-path');
  expect(build([...tlsFlags(serverCert), '-server.tls-cipher-suites=TLS_RSA_WITH_RC4_128_SHA'])).toMatch(/"TLS_RSA_WITH_RC4_128_SHA" is not a Go cipher suite name/);
  expect(build([...tlsFlags(serverCert), '-server.tls-min-version=TLS12'])).toMatch(/must be one of VersionTLS10, VersionTLS11, VersionTLS12, VersionTLS13/);
});

it('the control plane HTTP port (API, dashboard) takes the same options: TLS 1.3 only, client certificates required', async () => {
  const config = new WatchedConfig('gateway:\n  proxy:\n    default:\n      url: http://127.0.0.1:1\n');
  cleanups.push(() => config.remove());
  const cp = await startHttps(
    ['-target=control-plane', `-config.file=${config.file}`, ...tlsFlags(serverCert), `-server.http-tls-ca-path=${ca.caPath}`, '-server.tls-min-version=VersionTLS13'],
    clientCert,
  );
  const res = await request(`${cp.url}/control-plane/api/v1/status`, { dispatcher: cp.agent });
  await res.body.dump();
  expect(res.statusCode).toBe(200);
  // TLS 1.2 is below -server.tls-min-version: refused.
  const old = new Agent({ connect: { ca: readFileSync(ca.caPath), cert: readFileSync(clientCert.certPath), key: readFileSync(clientCert.keyPath), maxVersion: 'TLSv1.2' } });
  cleanups.push(() => old.close());
  await expect(request(`${cp.url}/ready`, { dispatcher: old })).rejects.toThrow();
  const bare = new Agent({ connect: { ca: readFileSync(ca.caPath) } });
  cleanups.push(() => bare.close());
  await expect(request(`${cp.url}/ready`, { dispatcher: bare })).rejects.toThrow();
}, 60_000);
