import { readFileSync } from 'node:fs';
import pino from 'pino';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildModules } from '../app/modules.js';
import { loadConfig } from '../app/config.js';
import { makeCertAuthority, type CertAuthority } from './support/certs.js';
import { startDnsServer } from './support/dns-watcher-harness.js';
import { WatchedConfig } from './support/fleet.js';
import { eventually } from './support/poll.js';
import { freePort } from './support/prometheus.js';

// Control-plane replicas whose HTTP port serves HTTPS with client certificates required
// (-server.http-tls-*) still see each other: a replica asks its peers over HTTPS, with its own
// serving certificate as the client certificate, checked against -server.http-tls-ca-path for the
// peers' DNS name (the headless Service name in every replica's certificate).

const HOSTS = ['127.0.0.21', '127.0.0.22'];
const PEERS_NAME = 'cp-peers-tls.test';

describe('fleet view between replicas serving HTTPS with mutual TLS', () => {
  const stops: Array<() => unknown> = [];
  let ca: CertAuthority;
  let agent: Agent;
  const urls: string[] = [];

  beforeAll(async () => {
    ca = makeCertAuthority('control plane CA');
    stops.push(() => ca.cleanup());
    const config = new WatchedConfig('gateway:\n  proxy:\n    default: { url: "http://127.0.0.1:9" }\n');
    stops.push(() => config.remove());
    const dns = await startDnsServer(stops);
    dns.setRecords(PEERS_NAME, HOSTS.map((address) => ({ type: 'A' as const, address, ttl: 1 })));
    const port = await freePort();
    for (const [i, host] of HOSTS.entries()) {
      const cert = ca.issue(`replica-${i}`, { dns: [PEERS_NAME], ips: [host] });
      const cfg = loadConfig([
        '-target=control-plane',
        `-config.file=${config.file}`,
        `-server.http-listen-address=${host}`,
        `-server.http-listen-port=${port}`,
        '-server.grpc-listen-address=127.0.0.1',
        '-server.grpc-listen-port=0',
        '-server.graceful-shutdown-timeout=1s',
        `-server.http-tls-cert-path=${cert.certPath}`,
        `-server.http-tls-key-path=${cert.keyPath}`,
        `-server.http-tls-ca-path=${ca.caPath}`,
        '-server.http-tls-client-auth=RequireAndVerifyClientCert',
        `-control-plane.peers=dns://${dns.authority}/${PEERS_NAME}:${port}`,
        '-control-plane.dns.lookup-period=1s',
      ]);
      const modules = buildModules(cfg, pino({ level: 'silent' }));
      await modules.start();
      stops.push(() => modules.stop());
      urls.push(`https://${host}:${port}`);
    }
    const client = ca.issue('operator', { dns: ['operator'] });
    agent = new Agent({ connect: { ca: readFileSync(ca.caPath), cert: readFileSync(client.certPath), key: readFileSync(client.keyPath) } });
    stops.push(() => agent.close());
  }, 120_000);

  afterAll(async () => {
    for (const stop of stops.reverse()) await stop();
  });

  it('each replica names the other as an answering peer', async () => {
    for (const [i, url] of urls.entries()) {
      const other = `${HOSTS[1 - i]}:${new URL(url).port}`;
      const peers = await eventually(
        async () => {
          const res = await request(`${url}/control-plane/api/v1/nodes`, { dispatcher: agent });
          const body = (await res.body.json()) as { peers: { address: string; state: string; error: string | null }[] };
          const p = body.peers.find((x) => x.address === other);
          return p?.state === 'up' ? body.peers : undefined;
        },
        `replica ${url} sees ${other} up`,
        30_000,
      );
      expect(peers.find((x) => x.address === other)?.error).toBeNull();
    }
  });
});
