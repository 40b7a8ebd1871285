import { expect, it } from 'vitest';
import { request } from 'undici';
import type { RolloutStatus } from '../control-plane/rollout/rollouts.js';
import { canaryCohort } from '../control-plane/rollout/decide.js';
import type { Child } from './support/cli.js';
import { cleanupsAfterEach } from './support/cleanups.js';
import { DemoCluster } from './support/demo-cluster.js';
import { startControlPlaneProcess, startGatewayProcess, upstreamOf, WatchedConfig } from './support/fleet.js';
import { eventually } from './support/poll.js';
import { findPrometheus, drainedRemoteWrite, startPrometheus } from './support/prometheus.js';
import { ScrapeTarget } from './support/scrape-target.js';

// A real Prometheus remote-writes through the fleet (to the gateway the rollout will pick as its
// canary: the one that sees the bad edit) while a distributor edit goes bad: the distributor's name
// is pointed at a DNS name that resolves to the wrong pods (nothing listens there). The canary answers
// 5xx, Prometheus retries, the rollout rolls back, the retries get through: 0 samples lost, judged
// from Prometheus's own counters against what the distributors got. Five gateways, canary fraction
// 0.2 (one canary), a short bake.

const PROMETHEUS = findPrometheus();
const IN_CI = !['', '0', 'false'].includes((process.env['CI'] ?? '').toLowerCase());
const SERIES = 500;
const AUTO_SERIES = 5;
const NODES = ['gw-0', 'gw-1', 'gw-2', 'gw-3', 'gw-4'];
const cleanups = cleanupsAfterEach();

const yaml = (distributor: string): string => `gateway:\n  proxy:\n    distributor: { url: "${distributor}" }\n    default: { url: "http://127.0.0.1:9" }\n`;
const prometheusYaml = (gatewayUrl: string, target: string | undefined): string =>
  [
    'global:',
    '  scrape_interval: 1s',
    '  scrape_timeout: 1s',
    target === undefined ? 'scrape_configs: []' : 'scrape_configs:',
    ...(target === undefined ? [] : ['  - job_name: synthetic', '    static_configs:', `      - targets: ['${target}']`]),
    'remote_write:',
    `  - url: ${gatewayUrl}/api/v1/push`,
    '    name: gateway',
    '    remote_timeout: 10s',
    '    headers:',
    '      X-Scope-OrgID: rollout',
    '    queue_config:',
    '      capacity: 2500',
    '      min_shards: 2',
    '      max_shards: 2',
    '      max_samples_per_send: 100',
    '      batch_send_deadline: 200ms',
    '      min_backoff: 50ms',
    '      max_backoff: 500ms',
    '',
  ].join('\n');

it('Prometheus remote-writing through the fleet loses no sample while a distributor edit goes bad and is rolled back', async (ctx) => {
  if (PROMETHEUS === undefined) {
    if (IN_CI) throw new Error('the prometheus binary is missing; CI installs the Debian package `prometheus` (.ci/run PACKAGES)');
    ctx.skip('prometheus binary not found (apt-get install prometheus, or set PROMETHEUS_BIN)');
  }
  const cluster = await DemoCluster.start(['127.0.0.2', '127.0.0.3']);
  cleanups.push(() => cluster.close());
  // The wrong pods: a name that resolves, to an address where no distributor listens.
  cluster.dns.setRecords('wrong-pods.test', [{ type: 'A', address: '127.0.0.9', ttl: 1 }]);
  const config = new WatchedConfig(yaml(cluster.url));
  cleanups.push(() => config.remove());
  const cp = await startControlPlaneProcess(config, 0, [
    '-control-plane.rollout.canary-fraction=0.2',
    '-control-plane.rollout.bake-time=5s',
    '-control-plane.rollout.min-requests=10',
    '-control-plane.load-reporting-interval=1s',
    '-control-plane.dns.lookup-period=1s',
  ]);
  cleanups.push(() => cp.child.stop('SIGKILL'));
  const gateways: Child[] = [];
  for (const id of NODES) {
    const g = await startGatewayProcess(cp.xdsAddress, [`-gateway.xds.node-id=${id}`, '-gateway.xds.cluster=edge']);
    gateways.push(g);
    cleanups.push(() => g.stop('SIGKILL'));
  }
  for (const g of gateways) await eventually(async () => ((await upstreamOf(g.url, 'distributor'))?.endpoints ?? []).filter((e) => e.state === 'READY').length === 2, 'READY distributors');
  // The rollout's canary is the same stable choice on every replica: Prometheus writes through it.
  const [canaryId] = canaryCohort(NODES.map((nodeId) => ({ nodeId, cluster: 'edge' })), 0.2);
  const canary = gateways[NODES.indexOf(canaryId!)]!;

  const target = await ScrapeTarget.start({ host: '127.0.0.10', series: SERIES });
  cleanups.push(() => target.close());
  const prom = await startPrometheus({ binary: PROMETHEUS!, config: prometheusYaml(canary.url, target.address), args: ['--storage.remote.flush-deadline=5s'] });
  cleanups.push(() => prom.stop());
  await eventually(() => cluster.received().unique >= SERIES * 3, 'remote-write samples at the distributors', 30_000, 100);

  config.replaceAtomically(yaml(`dns://${cluster.dns.authority}/wrong-pods.test:${cluster.port}`));
  const rollout = async (): Promise<RolloutStatus> => (await (await request(`${cp.child.url}/control-plane/api/v1/rollout`)).body.json()) as RolloutStatus;
  const r = (await eventually(async () => {
    const s = await rollout();
    return s.recent[0]?.outcome === 'rolled-back' ? s : undefined;
  }, 'the bad distributor edit rolled back', 90_000, 200))!;
  expect(r.recent[0]!.canaries).toEqual([canaryId]);
  expect(r.recent[0]!.reason).toContain('distributor');
  // Samples flow again through the canary, then scraping stops and the queue drains.
  const after = cluster.received().unique;
  await eventually(() => cluster.received().unique >= after + SERIES * 3, 'samples after the rollback', 30_000, 100);
  await prom.reload(prometheusYaml(canary.url, undefined));
  const counters = await drainedRemoteWrite(prom, 30_000);
  const received = cluster.received();
  const summary = `prometheus: in ${counters.in ?? '?'}, sent ${counters.sent}, retried ${counters.retried}, failed ${counters.failed}, dropped ${counters.dropped}; distributors: ${received.unique} unique, ${received.total} total; rollout: ${r.recent[0]!.reason}`;
  // The canary really failed pushes (Prometheus retried them), and nothing was lost.
  expect(counters.retried, summary).toBeGreaterThan(0);
  expect(counters.failed, summary).toBe(0);
  expect(counters.dropped, summary).toBe(0);
  expect(counters.pending, summary).toBe(0);
  expect(received.unique, summary).toBe(counters.sent);
  if (counters.in !== undefined) expect(counters.in, summary).toBe(counters.sent);
  expect(received.series, summary).toBe(SERIES + AUTO_SERIES);
}, 240_000);
