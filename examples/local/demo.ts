// `npm start`: the gateway on examples/local/config.yaml together with a small DEMO cluster on
// loopback: a DNS server, three httpgrpc distributors (127.0.0.2-.4) and HTTP stand-ins.

import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig, str } from '../../app/config.js';
import { GatewayError } from '../../core/errors.js';
import { createLogger, type LogFormat } from '../../app/logger.js';
import { buildModules } from '../../app/modules.js';
import { DemoDistributor, encodeRemoteWrite } from './demo-distributor.js';
import { startDemoHttp } from './demo-http.js';
import { startDemoTraffic } from './demo-traffic.js';
import { DnsServer } from './dns-server.js';

const CONFIG = fileURLToPath(new URL('../../../examples/local/config.yaml', import.meta.url));
const DISTRIBUTOR_HOSTS = ['127.0.0.2', '127.0.0.3', '127.0.0.4'];

async function main(): Promise<void> {
  const dns = await DnsServer.start({ host: '127.0.0.1', port: 15353 });
  dns.setRecords(
    'distributor.demo.local',
    DISTRIBUTOR_HOSTS.map((address) => ({ type: 'A' as const, address, ttl: 5 })),
  );
  const distributors = await Promise.all(DISTRIBUTOR_HOSTS.map((host) => DemoDistributor.start({ host, port: 19095 })));
  const stats = (): unknown => ({
    note: 'DEMO distributors: what each received through the gateway',
    distributors: distributors.map((d) => ({ address: d.address, tenants: Object.fromEntries(d.tenants) })),
  });
  const http = [await startDemoHttp('demo-admin-api', '127.0.0.1', 18080, stats), await startDemoHttp('demo-query-frontend', '127.0.0.1', 18081)];

  let cfg;
  try {
    // Load reports every 2 s so the dashboard moves quickly; flags given to `npm start --` still win.
    cfg = loadConfig([`-config.file=${CONFIG}`, '-control-plane.load-reporting-interval=2s', ...process.argv.slice(2)]);
  } catch (err) {
    process.stderr.write(`error: ${err instanceof GatewayError ? err.message : String(err)}\n`);
    process.exit(1);
  }
  const logger = createLogger({ level: str(cfg.tree, 'server.log_level'), format: str(cfg.tree, 'server.log_format') as LogFormat });
  const modules = buildModules(cfg, logger);
  await modules.start();
  const port = modules.addresses()['http']?.split(':').pop() ?? '8080';
  const gw = `http://127.0.0.1:${port}`;

  const sample = join(tmpdir(), 'metrics-gateway-demo-write.bin');
  const body = encodeRemoteWrite([{ labels: { __name__: 'demo_requests_total', job: 'demo' }, samples: [{ value: 1, timestamp: Date.now() }] }]);
  writeFileSync(sample, body);
  const stopTraffic = startDemoTraffic(gw, Buffer.from(body));
  process.stdout.write(
    [
      '',
      `metrics-gateway demo: gateway on ${gw} (config ${CONFIG})`,
      'DEMO backends: DNS 127.0.0.1:15353, distributors 127.0.0.2-4:19095 (httpgrpc), HTTP 127.0.0.1:18080-18081',
      '',
      `Fleet dashboard: ${gw}/control-plane/   (DEMO traffic: 2 pushes/s and a query every 2 s, so it is alive)`,
      '',
      'Try:',
      `  curl '${gw}/prometheus/api/v1/query?query=up'`,
      `  for i in 1 2 3 4 5 6; do curl -s -o /dev/null -w '%{http_code}\\n' -H 'X-Scope-OrgID: demo' -H 'Content-Encoding: snappy' -H 'Content-Type: application/x-protobuf' --data-binary @${sample} ${gw}/api/v1/push; done`,
      `  curl ${gw}/demo/stats        # pushes spread over the three distributors`,
      `  curl ${gw}/metrics | grep metrics_gateway_`,
      '',
    ].join('\n') + '\n',
  );

  const stop = async (): Promise<void> => {
    stopTraffic();
    await modules.stop();
    await Promise.all(distributors.map((d) => d.server.shutdown()));
    await dns.close();
    for (const s of http) {
      s.closeAllConnections();
      s.close();
    }
  };
  process.once('SIGINT', () => void stop().then(() => process.exit(0)));
  process.once('SIGTERM', () => void stop().then(() => process.exit(0)));
}

main().catch((err: unknown) => {
  process.stderr.write(`demo failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
