// Token mode with a real Prometheus (Debian's) as the remote-write client, through a fleet: a
// -target=control-plane process reading the tokens file and a -target=gateway process joined to it,
// in front of httpgrpc distributors found through DNS. Prometheus sends `basic_auth`; every sample
// must arrive under the token's tenant. A second queue with a wrong password must see its batches
// fail (401 is not retried) and nothing of it may reach a distributor.
//
// Needs the prometheus binary (Debian package `prometheus`, or $PROMETHEUS_BIN); skips without it,
// except in CI ($CI set), where it fails.

import { expect, it } from 'vitest';
import { request } from 'undici';
import { cleanupsAfterEach } from './support/cleanups.js';
import { DemoCluster } from './support/demo-cluster.js';
import { startControlPlaneProcess, startGatewayProcess, upstreamOf, WatchedConfig } from './support/fleet.js';
import { eventually } from './support/gateway.js';
import { findPrometheus, parseExposition, remoteWriteCounters, startPrometheus, testQueueConfig, type Exposition } from './support/prometheus.js';
import { ScrapeTarget } from './support/scrape-target.js';
import { mintTestToken, tokensYaml } from './support/tokens.js';

const PROMETHEUS = findPrometheus();
const IN_CI = !['', '0', 'false'].includes((process.env['CI'] ?? '').toLowerCase());
const SERIES = 200;
const HOSTS = ['127.0.0.2', '127.0.0.3'] as const;
const TENANT = 'team-a';

const cleanups = cleanupsAfterEach();

function remoteWrite(name: string, gatewayUrl: string, username: string, password: string): string[] {
  return [
    `  - url: ${gatewayUrl}/api/v1/push`,
    `    name: ${name}`,
    '    remote_timeout: 10s',
    // A client's own tenant header must not win over the credentials (Debian's 2.42 does not send
    // remote_write headers at all, prometheus/prometheus#13030; newer ones do).
    '    headers:',
    '      X-Scope-OrgID: someone-else',
    '    basic_auth:',
    `      username: ${username}`,
    `      password: ${password}`,
    ...testQueueConfig(2),
  ];
}

/** Only the samples of one remote-write queue. */
function queue(m: Exposition, name: string): Exposition {
  return new Map([...m].map(([k, list]) => [k, list.filter((s) => s.labels.includes(`remote_name="${name}"`))]));
}

it('Prometheus remote-writes with basic_auth through a fleet gateway: samples arrive under the token tenant, a wrong password fails and reaches nothing', async (ctx) => {
  if (PROMETHEUS === undefined) {
    if (IN_CI) throw new Error('the prometheus binary is missing; CI installs the Debian package `prometheus`');
    ctx.skip('prometheus binary not found (apt-get install prometheus, or set PROMETHEUS_BIN)');
  }
  const cluster = await DemoCluster.start(HOSTS);
  cleanups.push(() => cluster.close());
  const writer = mintTestToken('prometheus', [TENANT], ['metrics:write']);
  const tokens = new WatchedConfig(tokensYaml([writer]), 'tokens.yaml');
  cleanups.push(() => tokens.remove());
  const config = new WatchedConfig(
    `gateway:\n  proxy:\n    distributor:\n      url: ${cluster.url}\nauth:\n  type: token\n  tokens_file: ${tokens.file}\n  cache_ttl: 10m\n`,
  );
  cleanups.push(() => config.remove());
  const cp = await startControlPlaneProcess(config, 0, ['-control-plane.dns.lookup-period=1s']);
  cleanups.push(() => cp.child.stop('SIGKILL'));
  const gw = await startGatewayProcess(cp.xdsAddress);
  cleanups.push(() => gw.stop('SIGKILL'));
  await eventually(async () => (await upstreamOf(gw.url, 'distributor'))?.endpoints?.filter((e) => e.state === 'READY').length === HOSTS.length, 'READY distributors', 10_000, 50);

  const target = await ScrapeTarget.start({ host: '127.0.0.10', series: SERIES });
  cleanups.push(() => target.close());
  const yaml = (withBadQueue: boolean, scrape: boolean): string =>
    [
      'global:',
      '  scrape_interval: 1s',
      '  scrape_timeout: 1s',
      ...(scrape ? ['scrape_configs:', '  - job_name: synthetic', '    static_configs:', `      - targets: ['${target.address}']`] : ['scrape_configs: []']),
      'remote_write:',
      ...remoteWrite('good', gw.url, TENANT, writer.secret),
      ...(withBadQueue ? remoteWrite('bad', gw.url, TENANT, `${writer.secret.slice(0, -4)}AAAA`) : []),
      '',
    ].join('\n');
  const prom = await startPrometheus({ binary: PROMETHEUS!, config: yaml(false, true), args: ['--storage.remote.flush-deadline=5s'] });
  cleanups.push(() => prom.stop());
  await eventually(() => cluster.received().unique >= SERIES, 'the first samples at the distributors', 30_000, 100);
  // The wrong password joins once the good queue is flowing (a reload keeps the unchanged queue).
  await prom.reload(yaml(true, true));
  await eventually(async () => remoteWriteCounters(queue(await prom.metrics(), 'bad')).failed > 0, 'failed batches on the wrong-password queue', 30_000, 200);
  const goodBefore = cluster.received().unique;
  await eventually(() => cluster.received().unique >= goodBefore + 2 * SERIES, 'the good queue still flowing next to the failing one', 30_000, 100);

  // Stop scraping and let both queues drain.
  await prom.reload(yaml(true, false));
  let last = '';
  let stableSince = Date.now();
  await eventually(
    async () => {
      const m = await prom.metrics();
      const c = [queue(m, 'good'), queue(m, 'bad')].map((q) => remoteWriteCounters(q));
      const key = JSON.stringify(c);
      if (key !== last) stableSince = Date.now();
      last = key;
      return c.every((x) => x.pending === 0) && Date.now() - stableSince >= 3000;
    },
    'Prometheus to drain its queues',
    30_000,
    250,
  );
  const m = await prom.metrics();
  const good = remoteWriteCounters(queue(m, 'good'));
  const bad = remoteWriteCounters(queue(m, 'bad'));
  const received = cluster.received();
  const gwMetrics = parseExposition(await (await request(`${gw.url}/metrics`)).body.text());
  const reasons = Object.fromEntries((gwMetrics.get('metrics_gateway_auth_requests_total') ?? []).map((s) => [s.labels, s.value]));
  const summary = JSON.stringify({ good, bad, received: { unique: received.unique, total: received.total, tenants: [...received.tenants] }, reasons });

  console.log(`auth-prometheus summary ${summary}`);
  // Every sample of the good queue arrived, under the token's tenant only.
  expect(good.failed, summary).toBe(0);
  expect(good.sent, summary).toBeGreaterThan(0);
  expect(received.unique, summary).toBe(good.sent);
  expect([...received.tenants.keys()], summary).toEqual([TENANT]);
  // The wrong password: batches failed and were not retried; nothing of them reached a distributor
  // (the distributors hold exactly the good queue's samples, above).
  expect(bad.failed, summary).toBeGreaterThan(0);
  expect(bad.retried, summary).toBe(0);
  expect(reasons['{reason="wrong_secret"}'], summary).toBeGreaterThan(0);
}, 120_000);
