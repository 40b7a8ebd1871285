// The dashboards and rules against a real Prometheus that scrapes a real fleet under load: two
// control-plane replicas and two gateways (separate processes), httpgrpc distributors behind DNS, an
// HTTP backend and a backend that refuses connections. Every panel query must parse and return data,
// every rule must evaluate without error, and every metric name the mixin (or its promtool tests)
// uses must be one the fleet exports: a typo in a metric name fails here.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { dashboards } from '../deploy/monitoring/mixin/dashboards.js';
import { queriesOf } from '../deploy/monitoring/mixin/grafana.js';
import { alertRules, recordingRules } from '../deploy/monitoring/mixin/rules.js';
import type { Child } from './support/cli.js';
import { startDistributors, type Distributors } from './support/distributors.js';
import { startControlPlaneProcess, startGatewayProcess, upstreamOf, WatchedConfig, type ControlPlaneProcess } from './support/fleet.js';
import { HttpBackend } from './support/http-backend.js';
import { startLoad, type Load } from './support/load.js';
import { eventually } from './support/poll.js';
import { findPrometheus, freePort, startPrometheus, type RunningPrometheus } from './support/prometheus.js';

const PROMETHEUS = findPrometheus();
const IN_CI = !['', '0', 'false'].includes((process.env['CI'] ?? '').toLowerCase());
const MONITORING = fileURLToPath(new URL('../deploy/monitoring/', import.meta.url));
const HOSTS = ['127.0.0.2', '127.0.0.3', '127.0.0.4'];

interface Sample {
  readonly metric: Record<string, string>;
  readonly value: [number, string];
}

/** An instant query; throws with Prometheus's error when the expression does not parse or evaluate. */
async function query(prom: RunningPrometheus, expr: string): Promise<Sample[]> {
  const res = await request(`${prom.url}/api/v1/query?query=${encodeURIComponent(expr)}`);
  const body = (await res.body.json()) as { status: string; error?: string; data?: { result: Sample[] } };
  if (body.status !== 'success') throw new Error(`${expr}: ${body.error ?? res.statusCode}`);
  return body.data?.result ?? [];
}

/** Grafana's variables as a dashboard would fill them in. */
const grafana = (expr: string): string => expr.replaceAll('$__rate_interval', '1m');

/** Metric names an expression (or promtool series) uses: our prefixes, and recorded names (with ':'). */
function metricNames(text: string): string[] {
  const names = text.match(/[a-zA-Z_:][a-zA-Z0-9_:]*/g) ?? [];
  return [...new Set(names.filter((n) => /^(metrics_gateway_|control_plane_)/.test(n) || (n.includes(':') && /(metrics_gateway|control_plane)_/.test(n))))];
}

describe.skipIf(PROMETHEUS === undefined && !IN_CI)('dashboards and alerts on a real fleet', () => {
  let distributors: Distributors;
  let queryFrontend: HttpBackend;
  let config: WatchedConfig;
  let tokens: WatchedConfig;
  const replicas: ControlPlaneProcess[] = [];
  const gateways: Child[] = [];
  const loads: Load[] = [];
  let prom: RunningPrometheus;

  beforeAll(async () => {
    if (PROMETHEUS === undefined) throw new Error('the prometheus binary is missing; CI installs the Debian package `prometheus` (.ci/run PACKAGES)');
    distributors = await startDistributors(HOSTS);
    queryFrontend = await HttpBackend.start('qf', '127.0.0.6');
    // Nothing listens there: requests to the default backend fail as "refused".
    const refused = `http://127.0.0.1:${await freePort()}`;
    // A tokens file, watched but not enforced (auth.type trust), so the tokens-file metrics are exported.
    tokens = new WatchedConfig('tokens: []\n', 'tokens.yaml');
    // The distributors in three zones (one each, a headless Service per zone as Mimir runs them), and
    // the gateways in two of them: the zone panels and rules get data (3 endpoints are fewer than
    // min_cluster_size, so traffic spreads over all zones: local and cross-zone bytes both flow).
    const zones = HOSTS.map((address, i) => {
      const name = `distributor-zone-${'abc'[i]}.test`;
      distributors.dns.setRecords(name, [{ type: 'A' as const, address, ttl: 1 }]);
      return `zone-${'abc'[i]}: "dns://${distributors.dns.authority}/${name}:${distributors.port}"`;
    });
    config = new WatchedConfig(
      `gateway:\n  proxy:\n    default: { url: "${refused}" }\n    distributor: { zones: { ${zones.join(', ')} } }\n    query_frontend: { url: "${queryFrontend.url}" }\nauth:\n  tokens_file: ${tokens.file}\n`,
    );
    // Two replicas as deploy/kubernetes runs them: peers of each other through one DNS name (their HTTP
    // port on 127.0.0.11 and .12), so both count the same gateways per zone and publish the same versions.
    const cpHosts = ['127.0.0.11', '127.0.0.12'];
    const cpPort = await freePort();
    distributors.dns.setRecords('cp-peers.test', cpHosts.map((address) => ({ type: 'A' as const, address, ttl: 1 })));
    for (const host of cpHosts) {
      replicas.push(
        await startControlPlaneProcess(config, 0, [
          '-control-plane.dns.lookup-period=1s',
          `-server.http-listen-address=${host}`,
          `-server.http-listen-port=${cpPort}`,
          `-control-plane.peers=dns://${distributors.dns.authority}/cp-peers.test:${cpPort}`,
        ]),
      );
    }
    const servers = replicas.map((r) => r.xdsAddress).join(',');
    for (let i = 0; i < 2; i++) gateways.push(await startGatewayProcess(servers, [`-gateway.xds.node-id=gw-${i}`, `-gateway.xds.locality-zone=zone-${'ab'[i]}`]));
    for (const g of gateways) {
      await eventually(async () => (await upstreamOf(g.url, 'distributor'))?.endpoints?.filter((e) => e.state === 'READY').length === HOSTS.length, 'three READY distributors', 20_000, 50);
    }
    for (const g of gateways) {
      loads.push(
        startLoad(
          g.url,
          [
            { path: '/api/v1/push', method: 'POST', body: 'sample' },
            { path: '/prometheus/api/v1/query?query=up', method: 'GET' },
            { path: '/api/v1/push', method: 'POST', body: 'sample' },
            { path: '/admin/api/v1/tenants', method: 'GET' },
          ],
          { concurrency: 2, maxMs: 120_000, maxRequests: 60_000 },
        ),
      );
    }
    const target = (c: Child): string => `'${new URL(c.url).host}'`;
    prom = await startPrometheus({
      binary: PROMETHEUS,
      config: [
        'global:',
        '  scrape_interval: 1s',
        '  scrape_timeout: 1s',
        '  evaluation_interval: 1s',
        'rule_files:',
        `  - ${MONITORING}rules/metrics-gateway.rules.yaml`,
        `  - ${MONITORING}rules/metrics-gateway.alerts.yaml`,
        'scrape_configs:',
        '  - job_name: metrics-gateway',
        '    static_configs:',
        `      - targets: [${gateways.map(target).join(', ')}]`,
        '  - job_name: metrics-gateway-control-plane',
        '    static_configs:',
        `      - targets: [${replicas.map((r) => target(r.child)).join(', ')}]`,
        '',
      ].join('\n'),
    });
  }, 120_000);

  afterAll(async () => {
    await Promise.all(loads.map((l) => l.stop()));
    await prom?.stop();
    await Promise.all([...gateways, ...replicas.map((r) => r.child)].map((c) => c.stop('SIGKILL')));
    await distributors?.close();
    await queryFrontend?.close();
    config?.remove();
    tokens?.remove();
  });

  it('every panel query of every dashboard parses and returns data', async () => {
    const panels = dashboards.flatMap(queriesOf);
    expect(panels.length).toBeGreaterThan(25);
    const empty = new Set(panels.map((p) => p.panel));
    // Recording rules need two samples of each rate: poll until every panel has data.
    await eventually(
      async () => {
        for (const p of panels) if (empty.has(p.panel) && (await query(prom, grafana(p.expr))).length > 0) empty.delete(p.panel);
        return empty.size === 0;
      },
      'every panel to return data',
      60_000,
      1000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\npanels without data:\n  ${[...empty].join('\n  ')}`);
    });
  });

  it('the panels say what the fleet is doing', async () => {
    const values = async (expr: string): Promise<Map<string, number>> =>
      new Map((await query(prom, grafana(expr))).map((s) => [Object.values(s.metric).join(' '), Number(s.value[1])]));
    // Two gateways, both connected; no type out of sync; the two replicas serve each type's one version.
    await eventually(async () => (await values('sum(max by (job, instance) (metrics_gateway_xds_connected))')).get('') === 2, 'two connected gateways', 30_000, 500);
    const stale = await eventually(async () => {
      const v = await values('sum by (type) (type:metrics_gateway_xds_out_of_sync_gateways:count)');
      return v.size === 4 ? v : undefined;
    }, 'the sync state of four types', 30_000, 500);
    expect([...stale.keys()].sort()).toEqual(['cds', 'eds', 'lds', 'rds']);
    expect([...stale.values()]).toEqual([0, 0, 0, 0]);
    const replicasPerVersion = await values('count by (type, version) (control_plane_snapshot_version_info)');
    expect(replicasPerVersion.size).toBe(4);
    expect([...replicasPerVersion.values()]).toEqual([2, 2, 2, 2]);
    // Every distributor takes requests; the refusing backend shows as upstream errors "refused".
    await eventually(async () => {
      const perEndpoint = await values('sum by (backend, endpoint) (job_backend_endpoint:metrics_gateway_httpgrpc_requests_total:sum_rate)');
      return perEndpoint.size === HOSTS.length && [...perEndpoint.values()].every((v) => v > 0);
    }, 'requests on every distributor', 30_000, 500);
    await eventually(async () => ((await values('sum by (backend, reason) (job_backend_reason:metrics_gateway_upstream_errors_total:sum_rate)')).get('admin_api refused') ?? 0) > 0, 'refused requests to the admin_api backend', 30_000, 500);
  });

  it('every recording and alerting rule evaluates without error', async () => {
    type RuleState = { name: string; health: string; lastError?: string };
    await eventually(
      async () => {
        const body = (await (await request(`${prom.url}/api/v1/rules`)).body.json()) as { data: { groups: Array<{ rules: RuleState[] }> } };
        const rules = body.data.groups.flatMap((g) => g.rules);
        const bad = rules.filter((r) => r.health !== 'ok');
        if (bad.length > 0 && bad.some((r) => r.health === 'err')) throw new Error(bad.map((r) => `${r.name}: ${r.lastError}`).join('; '));
        return rules.length === recordingRules.length + alertRules.length && bad.length === 0;
      },
      'every rule evaluated with health ok',
      30_000,
      500,
    );
    for (const r of [...recordingRules, ...alertRules]) await query(prom, r.expr);
  });

  it('every metric name the dashboards, rules and promtool tests use is one the fleet exports', async () => {
    const body = (await (await request(`${prom.url}/api/v1/label/__name__/values`)).body.json()) as { data: string[] };
    const exported = new Set(body.data);
    const used = new Set([
      ...dashboards.flatMap(queriesOf).flatMap((p) => metricNames(p.expr)),
      ...[...recordingRules, ...alertRules].flatMap((r) => metricNames(r.expr)),
      ...metricNames(readFileSync(`${MONITORING}tests/metrics-gateway.alerts.test.yaml`, 'utf8')),
    ]);
    expect(used.size).toBeGreaterThan(20);
    // A histogram is exported as its _bucket/_sum/_count series.
    const missing = [...used].filter((n) => !exported.has(n) && !['_bucket', '_sum', '_count'].some((s) => exported.has(`${n}${s}`)));
    expect(missing, `names no process of the fleet exports: ${missing.join(', ')}`).toEqual([]);
  });
});
