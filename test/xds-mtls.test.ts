// Mutual TLS on the xDS channel, with certificates made by openssl at test time and mounted the way
// the kubelet mounts a Secret. A control plane requiring client certificates; gateways joining it with
// the right certificate, with none, with one from another CA, in plain text or checking the wrong
// name, each refused and told why; then certificates rotated in place under load.

import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { makeCertAuthority, type CertAuthority, type IssuedCert } from './support/certs.js';
import { nodesOf, startControlPlane, type RunningControlPlane } from './support/control-plane.js';
import { appliedVersion, eventually, startGateway, type RunningGateway } from './support/gateway.js';
import { HttpBackend } from './support/http-backend.js';
import { startLoad } from './support/load.js';
import { SecretDir } from './support/secret-dir.js';

const SERVER_NAMES = { dns: ['control-plane.test'], ips: ['127.0.0.1'] };

const xdsStatusOf = async (gatewayUrl: string): Promise<{ lastError: { why?: string } | null }> =>
  ((await (await request(`${gatewayUrl}/gateway/api/v1/config`)).body.json()) as { xds: { lastError: { why?: string } | null } }).xds;

describe('mTLS on the xDS channel', () => {
  let fleetCa: CertAuthority;
  let otherCa: CertAuthority;
  let serverSecret: SecretDir;
  let gatewaySecret: SecretDir;
  let backend: HttpBackend;
  let cp: RunningControlPlane;
  const gateways: RunningGateway[] = [];

  const secretFiles = (ca: CertAuthority, cert: IssuedCert): Record<string, string> => ({ 'tls.crt': cert.certPath, 'tls.key': cert.keyPath, 'ca.crt': ca.caPath });
  const cpArgs = (port: number): string[] => [
    `-server.grpc-listen-port=${port}`,
    `-server.grpc-tls-cert-path=${serverSecret.path('tls.crt')}`,
    `-server.grpc-tls-key-path=${serverSecret.path('tls.key')}`,
    `-server.grpc-tls-ca-path=${serverSecret.path('ca.crt')}`,
    '-control-plane.load-reporting-interval=1s',
  ];
  const tlsArgs = (secret: SecretDir, extra: string[] = []): string[] => [
    '-gateway.xds.tls-enabled=true',
    `-gateway.xds.tls-ca-path=${secret.path('ca.crt')}`,
    `-gateway.xds.tls-cert-path=${secret.path('tls.crt')}`,
    `-gateway.xds.tls-key-path=${secret.path('tls.key')}`,
    '-gateway.xds.tls-server-name=control-plane.test',
    ...extra,
  ];
  const join = async (nodeId: string, args: string[]): Promise<RunningGateway> => {
    const gw = await startGateway([`-gateway.xds.server-address=${cp.xdsAddress}`, `-gateway.xds.node-id=${nodeId}`, ...args]);
    gateways.push(gw);
    return gw;
  };
  /** SHA-256 fingerprint of the certificate the control plane presents to a new connection. */
  const presentedFingerprint = (): Promise<string> =>
    new Promise((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port: cp.xdsPort, rejectUnauthorized: false, ALPNProtocols: ['h2'] }, () => {
        resolve(s.getPeerCertificate().fingerprint256);
        s.destroy();
      });
      s.on('error', reject);
    });
  const fingerprint = (file: string): string => new X509Certificate(readFileSync(file)).fingerprint256;

  beforeAll(async () => {
    fleetCa = makeCertAuthority('fleet CA');
    otherCa = makeCertAuthority('other CA');
    serverSecret = new SecretDir(secretFiles(fleetCa, fleetCa.issue('control-plane-1', SERVER_NAMES)));
    gatewaySecret = new SecretDir(secretFiles(fleetCa, fleetCa.issue('gateway-1', { dns: ['gateway.test'] })));
    backend = await HttpBackend.start('qf', '127.0.0.1');
    cp = await startControlPlane({ yaml: `gateway:\n  proxy:\n    default: { url: "${backend.url}" }\n`, args: cpArgs(0) });
  });
  afterAll(async () => {
    await Promise.all(gateways.map((g) => g.stop()));
    await cp?.stop();
    await backend?.close();
    for (const s of [serverSecret, gatewaySecret]) s?.remove();
    for (const c of [fleetCa, otherCa]) c?.cleanup();
  });

  it('a gateway with a certificate from the fleet CA gets its config and serves', async () => {
    const gw = await join('gw-good', tlsArgs(gatewaySecret));
    await eventually(async () => (await appliedVersion(gw.url)) !== '', 'the gateway to apply its config over mTLS', 20_000, 50);
    const res = await request(`${gw.url}/api/v1/status/buildinfo`);
    await res.body.dump();
    expect(res.statusCode).toBe(200);
    expect((await nodesOf(cp.url)).find((n) => n.nodeId === 'gw-good')?.state).toBe('connected');
    // Load reports ride the same mutually authenticated channel (LRS on the ADS channel).
    await eventually(
      async () => {
        const load = (await (await request(`${cp.url}/control-plane/api/v1/load`)).body.json()) as { nodes: { nodeId: string }[]; clusters: { name: string; lastMinute: { succeeded: number } }[] };
        return load.nodes.some((n) => n.nodeId === 'gw-good') && load.clusters.some((c) => c.name === 'query_frontend' && c.lastMinute.succeeded >= 1);
      },
      'the gateway to report its request over LRS through mTLS',
      20_000,
      100,
    );
  });

  it.each([
    ['in plain text', () => [], 'the control plane serves TLS: set -gateway.xds.tls-enabled=true'],
    ['without a client certificate', () => ['-gateway.xds.tls-enabled=true', `-gateway.xds.tls-ca-path=${fleetCa.caPath}`, '-gateway.xds.tls-server-name=control-plane.test'], 'requires a client certificate'],
    [
      'with a certificate from another CA',
      () => {
        const c = otherCa.issue('stranger', { dns: ['gateway.test'] });
        return tlsArgs(gatewaySecret).map((a) => a.replace(gatewaySecret.path('tls.crt'), c.certPath).replace(gatewaySecret.path('tls.key'), c.keyPath));
      },
      "does not accept this gateway's client certificate",
    ],
    ['checking a name the server certificate does not hold', () => tlsArgs(gatewaySecret).map((a) => a.replace('=control-plane.test', '=elsewhere.test')), 'is not valid for "elsewhere.test"'],
    ['trusting another CA for the server', () => tlsArgs(gatewaySecret).map((a) => a.replace(gatewaySecret.path('ca.crt'), otherCa.caPath)), "certificate is not signed by a CA in -gateway.xds.tls-ca-path"],
  ])('a gateway %s is refused and says why', async (_name, args, why) => {
    const nodeId = `gw-refused-${gateways.length}`;
    const gw = await join(nodeId, args());
    // Not ready, and the reason names the fix: at /ready and in the gateway's xDS status.
    const reason = await eventually(
      async () => {
        const res = await request(`${gw.url}/ready`);
        const text = await res.body.text();
        return res.statusCode === 503 && text.includes(why) ? text : undefined;
      },
      `/ready to explain the refusal (${why})`,
      20_000,
      50,
    );
    expect(reason).toContain('cannot connect');
    expect((await xdsStatusOf(gw.url)).lastError?.why).toContain(why);
    expect(await appliedVersion(gw.url)).toBe('');
    // The control plane never saw it as a node: no stream got past TLS.
    expect((await nodesOf(cp.url)).some((n) => n.nodeId === nodeId)).toBe(false);
    await gw.stop();
  });

  it('certificates rotated in place keep the open stream and every request; new connections use the new ones', async () => {
    const gw = await join('gw-rotating', tlsArgs(gatewaySecret));
    await eventually(async () => (await appliedVersion(gw.url)) !== '', 'the rotating gateway applied its config', 20_000, 50);
    const streamOf = async (): Promise<number | undefined> => (await nodesOf(cp.url)).find((n) => n.nodeId === 'gw-rotating' && n.state === 'connected')?.streamId;
    const stream = await streamOf();
    expect(stream).toBeDefined();
    const load = startLoad(gw.url, [{ path: '/api/v1/status/buildinfo', method: 'GET' }], { concurrency: 2, maxMs: 60_000, maxRequests: 50_000 });
    try {
      // The fleet moves to a new CA for gateways: the control plane gets a new certificate and trusts
      // only the new CA; the gateway gets a certificate from the new CA.
      const newCa = makeCertAuthority('fleet CA 2');
      try {
        const newServer = fleetCa.issue('control-plane-2', SERVER_NAMES);
        serverSecret.update({ 'tls.crt': newServer.certPath, 'tls.key': newServer.keyPath, 'ca.crt': newCa.caPath });
        gatewaySecret.update(secretFiles(fleetCa, newCa.issue('gateway-2', { dns: ['gateway.test'] })));
        await eventually(async () => (await presentedFingerprint()) === fingerprint(newServer.certPath), 'the control plane to present its new certificate', 20_000, 100);
        expect(cp.logs()).toContain('TLS certificates reloaded');
        // A gateway still holding a certificate from the old CA is now refused...
        const old = fleetCa.issue('gateway-old', { dns: ['gateway.test'] });
        const stale = await join('gw-stale', tlsArgs(gatewaySecret).map((a) => a.replace(gatewaySecret.path('tls.crt'), old.certPath).replace(gatewaySecret.path('tls.key'), old.keyPath)));
        await eventually(async () => (await xdsStatusOf(stale.url)).lastError?.why, 'the old-CA gateway refused', 20_000, 50);
        await stale.stop();
        // ...while the stream opened with it stays up, and no request failed.
        expect(await streamOf()).toBe(stream);
        await eventually(() => load.sent() > 200, 'load flowing', 20_000, 50);
        expect(load.failures).toEqual([]);

        // The gateway re-read its files too: when its stream has to be opened again (control plane
        // restarted on the same port), the new certificate gets it in.
        const port = cp.xdsPort;
        await cp.stop();
        cp = await startControlPlane({ yaml: `gateway:\n  proxy:\n    default: { url: "${backend.url}" }\n`, args: cpArgs(port) });
        await eventually(async () => (await streamOf()) !== undefined, 'the rotated gateway reconnected with its new certificate', 30_000, 100);
      } finally {
        newCa.cleanup();
      }
    } finally {
      await load.stop();
    }
    expect(load.failures).toEqual([]);
    expect(load.sent()).toBeGreaterThan(200);
  });
});
