import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import https from 'node:https';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { makeCerts, type TestCerts } from './support/certs.js';
import { startGateway, type RunningGateway } from './support/gateway.js';

describe('https backends', () => {
  let certs: TestCerts;
  let server: https.Server;
  let port: number;
  const gateways: RunningGateway[] = [];

  beforeAll(async () => {
    certs = makeCerts({ dns: ['query-frontend.test'], ips: ['127.0.0.2'] });
    server = https.createServer({ cert: readFileSync(certs.certPath), key: readFileSync(certs.keyPath) }, (req, res) => {
      res.setHeader('x-tls', 'yes');
      res.end(`secure ${req.url}`);
    });
    server.listen(0, '127.0.0.2');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await Promise.all(gateways.map((g) => g.stop()));
    server?.closeAllConnections();
    server?.close();
    certs?.cleanup();
  });

  async function gateway(args: string[]): Promise<RunningGateway> {
    const g = await startGateway(args);
    gateways.push(g);
    return g;
  }

  it('verifies the backend with a custom CA', async () => {
    const gw = await gateway([`-gateway.proxy.query-frontend.url=https://127.0.0.2:${port}`, `-gateway.proxy.query-frontend.tls-ca-path=${certs.caPath}`]);
    const res = await request(`${gw.url}/prometheus/api/v1/query?query=up`);
    expect(res.statusCode).toBe(200);
    expect(await res.body.text()).toBe('secure /prometheus/api/v1/query?query=up');
  });

  it('verifies against tls_server_name when it is set', async () => {
    const gw = await gateway([
      `-gateway.proxy.query-frontend.url=https://127.0.0.2:${port}`,
      `-gateway.proxy.query-frontend.tls-ca-path=${certs.caPath}`,
      '-gateway.proxy.query-frontend.tls-server-name=query-frontend.test',
    ]);
    const res = await request(`${gw.url}/prometheus/api/v1/labels`);
    expect(res.statusCode).toBe(200);
    await res.body.dump();
  });

  it('refuses a backend its CA does not vouch for, with 502 naming the backend', async () => {
    const gw = await gateway([`-gateway.proxy.query-frontend.url=https://127.0.0.2:${port}`]);
    const res = await request(`${gw.url}/prometheus/api/v1/labels`);
    expect(res.statusCode).toBe(502);
    expect(await res.body.text()).toMatch(/^backend query_frontend \(https:\/\/127\.0\.0\.2:\d+\): .*(certificate|CERT)/);
  });

  it('refuses a certificate for another name', async () => {
    const gw = await gateway([
      `-gateway.proxy.query-frontend.url=https://127.0.0.2:${port}`,
      `-gateway.proxy.query-frontend.tls-ca-path=${certs.caPath}`,
      '-gateway.proxy.query-frontend.tls-server-name=other.test',
    ]);
    const res = await request(`${gw.url}/prometheus/api/v1/labels`);
    expect(res.statusCode).toBe(502);
    expect(await res.body.text()).toMatch(/ERR_TLS_CERT_ALTNAME_INVALID|does not match|altnames/);
  });
});
