import * as grpc from '@grpc/grpc-js';
import { register } from '@grpc/grpc-js-xds';
import { it, expect } from 'vitest';
import { startControlPlane, getJson } from './support/control-plane.js';
import { HttpGrpcServer } from '../examples/local/httpgrpc-server.js';
import { DnsServer } from '../examples/local/dns-server.js';
import { encodeRequest } from '../data-plane/httpgrpc/codec.js';
import { HANDLE_METHOD } from '../data-plane/httpgrpc/connection-pool.js';

it('probe', async () => {
  const s4 = await HttpGrpcServer.start({ host: '127.0.0.2', port: 0 });
  const s6 = await HttpGrpcServer.start({ host: '::1', port: 0 });
  const dns = await DnsServer.start();
  dns.setRecords('empty.test', []);
  const yaml = `gateway:
  proxy:
    default: { url: "dns:///127.0.0.2:${s4.port}", timeout: 1ms }
    ingester: { url: "dns:///[::1]:${s6.port}", tls_enabled: true, tls_server_name: foo, tls_insecure_skip_verify: true }
    ruler: { url: "dns://${dns.authority}/empty.test:9095" }
    query_frontend: { url: "http://127.0.0.1:1" }
    admin_api: { url: "https://example.com:8443", tls_ca_path: /tmp/x.pem }
`;
  const cp = await startControlPlane({ yaml });
  process.env['GRPC_XDS_BOOTSTRAP_CONFIG'] = JSON.stringify({ xds_servers: [{ server_uri: cp.xdsAddress, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] }], node: { id: 'probe', cluster: 'c', locality: {} } });
  register();
  const results: Record<string, string> = {};
  for (const name of ['default', 'ingester', 'ruler', 'distributor', 'query_frontend', 'admin_api']) {
    const c = new grpc.Client(`xds:///${name}`, grpc.credentials.createInsecure());
    results[name] = await new Promise<string>((resolve) => c.makeUnaryRequest(HANDLE_METHOD, (b: Buffer) => b, (b: Buffer) => b, encodeRequest({ method: 'GET', url: '/', headers: [], body: Buffer.alloc(0) }), { deadline: Date.now() + 3000 }, (err) => resolve(err ? `${err.code} ${err.details}` : 'ok')));
    c.close();
  }
  console.log(results);
  const nodes = await getJson<{ nodes: { nodeId: string; types: Record<string, { lastNack: unknown; ackedVersion: string }> }[] }>(`${cp.url}/control-plane/api/v1/nodes`);
  console.log(JSON.stringify(nodes.nodes.map((n) => n.types), null, 1));
  const t0 = Date.now(); setTimeout(() => console.log("STILL STOPPING", JSON.stringify(cp.modules.controlPlane?.ads.nodes.nodes().map(n=>[n.nodeId,n.state,n.types])), process.getActiveResourcesInfo()), 3000).unref(); await cp.stop(); console.log("cp.stop ms", Date.now() - t0); s4.kill(); s6.kill(); await dns.close(); console.log("ALL CLOSED");
  expect(1).toBe(1);
});
