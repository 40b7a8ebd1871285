// End-to-end reliability of the write path with a real Prometheus. Prometheus scrapes a synthetic
// target (5,000 series, every second) and remote-writes through a gateway in fleet mode (a
// -target=control-plane process, a -target=gateway process joined to it) to demo distributors found
// through DNS. Meanwhile distributors restart, crash, get added, the config is edited and the control
// plane is SIGKILLed and restarted. Prometheus retries 5xx and connection errors and DROPS batches on
// 4xx, so "nothing lost" is judged from Prometheus's own counters against what the distributors got.
//
// Needs the prometheus binary (Debian package `prometheus`, or $PROMETHEUS_BIN). Without it the test
// skips, except in CI ($CI set), where it fails. E2E_PROMETHEUS_SECONDS sets the disturbance phase
// (default 45 s; the file takes about 65 s: Prometheus applies new scrape targets only every 5 s).

import http from 'node:http';
import { expect, it } from 'vitest';
import { request } from 'undici';
import { encodeRemoteWrite } from '../examples/local/demo-distributor.js';
import { DnsServer } from '../examples/local/dns-server.js';
import type { Child } from './support/cli.js';
import { cleanupsAfterEach } from './support/cleanups.js';
import { DemoCluster } from './support/demo-cluster.js';
import { startControlPlaneProcess, startGatewayProcess, upstreamOf, WatchedConfig, type ControlPlaneProcess } from './support/fleet.js';
import { eventually, startGateway } from './support/gateway.js';
import { HttpBackend } from './support/http-backend.js';
import { drainedRemoteWrite, findPrometheus, parseExposition, startPrometheus, testQueueConfig, type Exposition, type RunningPrometheus } from './support/prometheus.js';
import { ScrapeTarget } from './support/scrape-target.js';

const PROMETHEUS = findPrometheus();
const IN_CI = !['', '0', 'false'].includes((process.env['CI'] ?? '').toLowerCase());
const SECONDS = Math.min(600, Math.max(10, Number(process.env['E2E_PROMETHEUS_SECONDS'] ?? 45)));
const TENANT = 'e2e-prometheus';
const SERIES = 5000;
const HOSTS = ['127.0.0.2', '127.0.0.3', '127.0.0.4'] as const;
const ADDED_HOST = '127.0.0.5';
const CONFIG_EDITS = 10;
const DISTRIBUTOR_LATENCY_MS = 20;
// Remote-write series Prometheus adds per target: up, scrape_duration_seconds, scrape_samples_scraped,
// scrape_samples_post_metric_relabeling, scrape_series_added.
const AUTO_SERIES = 5;

const cleanups = cleanupsAfterEach();

interface EditableConfig {
  readonly distributorUrl: string;
  /** A change here replaces the gateway's distributor upstream (new connections) on the hot path. */
  readonly distributorTimeoutSeconds: number;
  readonly queryFrontendUrl: string;
  readonly queryFrontendTimeoutSeconds: number;
}

function controlPlaneYaml(c: EditableConfig): string {
  return [
    '# e2e-prometheus: edited while the fleet runs; every version keeps the distributor.',
    'gateway:',
    '  proxy:',
    '    distributor:',
    `      url: ${c.distributorUrl}`,
    `      timeout: ${c.distributorTimeoutSeconds}s`,
    '    query_frontend:',
    `      url: ${c.queryFrontendUrl}`,
    `      timeout: ${c.queryFrontendTimeoutSeconds}s`,
    '',
  ].join('\n');
}

/** Same remote_write section with or without the scrape job, so a reload keeps the queue (and its counters). */
function prometheusYaml(gatewayUrl: string, target: string | undefined): string {
  return [
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
    `      X-Scope-OrgID: ${TENANT}`,
    ...testQueueConfig(4),
    '',
  ].join('\n');
}

/** Push responses by status code, from the gateway's own request histogram. */
function pushStatuses(m: Exposition): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of m.get('metrics_gateway_request_duration_seconds_count') ?? []) {
    if (!s.labels.includes('backend="distributor"')) continue;
    const code = /status_code="(\d+)"/.exec(s.labels)?.[1] ?? '?';
    out.set(code, (out.get(code) ?? 0) + s.value);
  }
  return out;
}

async function scrapeMetrics(url: string): Promise<Exposition> {
  const res = await request(`${url}/metrics`);
  return parseExposition(await res.body.text());
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));

it(
  `Prometheus remote-write through a gateway fleet loses nothing while distributors, config and control plane change (${SECONDS}s)`,
  async (ctx) => {
    if (PROMETHEUS === undefined) {
      if (IN_CI) throw new Error('the prometheus binary is missing; CI installs the Debian package `prometheus` (.ci/run PACKAGES)');
      const why = 'prometheus binary not found (apt-get install prometheus, or set PROMETHEUS_BIN): skipping the end-to-end remote-write test';
      console.warn(why);
      ctx.skip(why);
    }
    const log: string[] = [];
    const t0 = Date.now();
    const note = (msg: string): void => void log.push(`${((Date.now() - t0) / 1000).toFixed(1)}s ${msg}`);

    // The cluster: three distributors behind DNS, two query-frontends to switch between.
    const cluster = await DemoCluster.start(HOSTS, { latencyMs: DISTRIBUTOR_LATENCY_MS });
    cleanups.push(() => cluster.close());
    const qf = [await HttpBackend.start('query-frontend-a'), await HttpBackend.start('query-frontend-b')] as const;
    cleanups.push(() => qf[0].close(), () => qf[1].close());

    // The fleet: a control plane process and a gateway process joined to it.
    const editable = (i: number): EditableConfig => ({
      distributorUrl: cluster.url,
      distributorTimeoutSeconds: 60 + 10 * Math.floor(i / 3),
      queryFrontendUrl: qf[i % 2]!.url,
      queryFrontendTimeoutSeconds: 20 + i,
    });
    const config = new WatchedConfig(controlPlaneYaml(editable(0)));
    cleanups.push(() => config.remove());
    const cpArgs = ['-control-plane.dns.lookup-period=1s'];
    let cp: ControlPlaneProcess | undefined = await startControlPlaneProcess(config, 0, cpArgs);
    cleanups.push(() => cp?.child.stop('SIGKILL'));
    const xdsPort = Number(cp.xdsAddress.split(':').pop());
    const gw: Child = await startGatewayProcess(cp.xdsAddress);
    cleanups.push(() => gw.stop('SIGKILL'));
    const readyEndpoints = async (): Promise<number> =>
      (await upstreamOf(gw.url, 'distributor'))?.endpoints?.filter((e) => e.state === 'READY').length ?? 0;
    await eventually(async () => (await readyEndpoints()) === HOSTS.length, 'three READY distributors in the gateway', 10_000, 50);
    note('fleet ready');

    // Prometheus scraping the synthetic target, remote-writing through the gateway.
    const target = await ScrapeTarget.start({ host: '127.0.0.10', series: SERIES });
    cleanups.push(() => target.close());
    const prom: RunningPrometheus = await startPrometheus({
      binary: PROMETHEUS!,
      config: prometheusYaml(gw.url, target.address),
      args: ['--storage.remote.flush-deadline=5s'],
    });
    // Registered after the gateway, so it stops first: its shutdown flush still has somewhere to go.
    cleanups.push(() => prom.stop());
    note('prometheus ready');
    await eventually(() => cluster.received().unique >= SERIES, 'the first remote-write samples at the distributors', 20_000, 100);
    note(`data flowing: ${cluster.received().unique} samples`);

    // The disturbance phase: events spread over SECONDS, run in order.
    const D = SECONDS * 1000;
    const edits: Array<EditableConfig & { readonly queryFrontendName: string }> = [];
    const propagation: number[] = [];
    let pairsAtCpKill = 0;
    let pairsDuringCpDown = 0;
    const applyEdit = async (i: number): Promise<void> => {
      const edit = editable(i);
      edits.push({ ...edit, queryFrontendName: qf[i % 2]!.name });
      const yaml = controlPlaneYaml(edit);
      // Both ways a config file changes in practice.
      if (i % 2 === 0) config.replaceAtomically(yaml);
      else config.writeInPlace(yaml);
      if (cp === undefined) return note(`config edit ${i} while the control plane is down`);
      const started = Date.now();
      await waitForEdit();
      propagation.push(Date.now() - started);
      note(`config edit ${i} applied by the gateway in ${Date.now() - started} ms`);
    };
    /** The gateway serves the latest edit: its applied config says so and a query reaches that backend. */
    const waitForEdit = async (timeoutMs = 10_000): Promise<void> => {
      const want = edits[edits.length - 1]!;
      await eventually(
        async () => {
          const q = await upstreamOf(gw.url, 'query_frontend');
          const d = await upstreamOf(gw.url, 'distributor');
          return (
            q?.url === want.queryFrontendUrl &&
            q.timeout_ms === want.queryFrontendTimeoutSeconds * 1000 &&
            d?.url === want.distributorUrl &&
            d.timeout_ms === want.distributorTimeoutSeconds * 1000
          );
        },
        `the gateway to apply edit ${edits.length}: ${JSON.stringify(want)}`,
        timeoutMs,
        25,
      );
      const res = await request(`${gw.url}/prometheus/api/v1/query?query=up`);
      await res.body.dump();
      expect(res.headers['x-backend'], 'a query after the edit reaches the edited query_frontend').toBe(want.queryFrontendName);
    };

    const untilInFlight = (host: string): Promise<number> =>
      eventually(() => cluster.current(host)?.server.inFlight ?? 0, `a push in flight at ${host}`, 5000, 1);

    const events: Array<{ at: number; name: string; run: () => Promise<void> }> = [];
    for (let i = 1; i <= CONFIG_EDITS; i++) events.push({ at: (i / (CONFIG_EDITS + 1)) * D, name: `config edit ${i}`, run: () => applyEdit(i) });
    events.push(
      {
        at: 0.15 * D,
        name: `graceful restart of ${HOSTS[0]}`,
        run: async () => {
          // While it has pushes in flight: a graceful restart must let them finish.
          await untilInFlight(HOSTS[0]);
          await cluster.restartGracefully(HOSTS[0]);
          note(`${HOSTS[0]} restarted gracefully`);
        },
      },
      {
        at: 0.3 * D,
        name: `kill ${HOSTS[1]}`,
        run: async () => {
          // While it has pushes in flight: those fail mid-request and Prometheus must retry them.
          const inFlight = await untilInFlight(HOSTS[1]);
          cluster.kill(HOSTS[1]);
          note(`${HOSTS[1]} killed with ${inFlight} pushes in flight`);
        },
      },
      {
        at: 0.38 * D,
        name: `bring ${HOSTS[1]} back`,
        run: async () => {
          await cluster.startOn(HOSTS[1]);
          note(`${HOSTS[1]} back`);
        },
      },
      {
        at: 0.47 * D,
        name: `add ${ADDED_HOST} to DNS`,
        run: async () => {
          await cluster.startOn(ADDED_HOST);
          const started = Date.now();
          await eventually(async () => (await readyEndpoints()) === HOSTS.length + 1, 'the added distributor READY in the gateway', 10_000, 50);
          note(`${ADDED_HOST} added; READY in the gateway after ${Date.now() - started} ms`);
        },
      },
      {
        at: 0.58 * D,
        name: 'SIGKILL the control plane',
        run: async () => {
          await cp!.child.stop('SIGKILL');
          cp = undefined;
          pairsAtCpKill = cluster.received().unique;
          note('control plane killed');
        },
      },
      {
        at: 0.7 * D,
        name: 'restart the control plane on the same port',
        run: async () => {
          pairsDuringCpDown = cluster.received().unique - pairsAtCpKill;
          cp = await startControlPlaneProcess(config, xdsPort, cpArgs);
          const started = Date.now();
          // The gateway reconnects (full-jitter backoff, ceiling doubling from 0.5 s up to 30 s) and
          // picks up the edit made while the control plane was away.
          await waitForEdit(40_000);
          note(`control plane back; gateway resumed and applied the pending edit after ${Date.now() - started} ms`);
        },
      },
    );
    events.sort((a, b) => a.at - b.at);
    const phaseStart = Date.now();
    for (const e of events) {
      await sleep(phaseStart + e.at - Date.now());
      try {
        await e.run();
      } catch (err) {
        throw new Error(`${e.name}: ${(err as Error).message}\n${log.join('\n')}\n--- gateway log tail ---\n${gw.output().slice(-3000)}`);
      }
    }
    await sleep(phaseStart + D - Date.now());

    // Stop scraping (the remote-write queue stays: same remote_write section), let it flush.
    const scrapes = target.scrapes;
    await prom.reload(prometheusYaml(gw.url, undefined));
    note(`scraping stopped after ${scrapes} scrapes`);
    const counters = await drainedRemoteWrite(prom);
    const received = cluster.received();
    const statuses = pushStatuses(await scrapeMetrics(gw.url));
    const summary = [
      ...log,
      `prometheus: samples in ${counters.in ?? '?'}, sent ${counters.sent}, retried ${counters.retried}, failed ${counters.failed}, dropped ${counters.dropped}, pending ${counters.pending}`,
      `distributors: ${received.unique} distinct (series, timestamp) pairs, ${received.total - received.unique} duplicates, ${received.series} series; by host ${JSON.stringify(Object.fromEntries(received.byHost))}`,
      `gateway push answers by status: ${JSON.stringify(Object.fromEntries(statuses))}; config propagation ms: ${propagation.join(', ')}`,
      `delivered while the control plane was down: ${pairsDuringCpDown}`,
    ].join('\n');
    console.log(`e2e-prometheus summary\n${summary}`);

    // Prometheus lost nothing: no batch dropped on a 4xx, none failed, none dropped before sending.
    expect(counters.failed, summary).toBe(0);
    expect(counters.dropped, summary).toBe(0);
    expect(counters.metadataFailed, summary).toBe(0);
    // Retries are fine, loss is not: the kill caught pushes in flight, so Prometheus retried some.
    expect(counters.retried, summary).toBeGreaterThan(0);
    expect(counters.pending, summary).toBe(0);
    // Everything Prometheus sent reached a distributor, and everything it took in was sent.
    expect(received.unique, summary).toBe(counters.sent);
    // Every duplicate delivery is a batch Prometheus itself retried: the gateway never re-sent a push
    // a distributor may have processed.
    expect(received.total - received.unique, summary).toBeLessThanOrEqual(counters.retried);
    expect(counters.in, summary).toBe(counters.sent);
    expect(received.series, summary).toBe(SERIES + AUTO_SERIES);
    expect(received.unique, summary).toBeGreaterThanOrEqual(scrapes * SERIES * 0.9);
    // The gateway never answered a push with a 4xx (Prometheus would have dropped the batch).
    for (const code of statuses.keys()) expect(code.startsWith('4'), `gateway answered ${code} to pushes\n${summary}`).toBe(false);
    // One tenant for every push: the configured X-Scope-OrgID, or Mimir's "anonymous" where Prometheus
    // does not send remote_write.headers at all (Debian's 2.42.0+ds, prometheus/prometheus#13030).
    expect(received.tenants.size, summary).toBe(1);
    expect([TENANT, 'anonymous'], summary).toContain([...received.tenants.keys()][0]);
    // Every distributor took a share, the restarted, revived and added ones included.
    for (const h of [...HOSTS, ADDED_HOST]) expect(cluster.current(h)?.pairCount ?? 0, `${h} after its last (re)start\n${summary}`).toBeGreaterThan(0);
    // The gateway kept serving while the control plane was away.
    expect(pairsDuringCpDown, summary).toBeGreaterThan(0);
    expect(propagation.length, summary).toBe(CONFIG_EDITS - 1);
  },
  SECONDS * 1000 + 90_000,
);

// Found while building the test above: a config swap that replaces the distributor upstream (any
// change to its settings) used to release the old upstream's endpoints at once, so a push it had
// already accepted (still reading the body, or waiting for an endpoint) was answered 503 "no READY
// endpoint (0/0 ready)". Prometheus retries a 503, other clients see an error; either way a reload
// must not fail requests it accepted.
it('a push still reading its body when the distributor upstream is replaced is delivered', async () => {
  const cluster = await DemoCluster.start(['127.0.0.2', '127.0.0.3']);
  cleanups.push(() => cluster.close());
  const yaml = (timeoutSeconds: number): string => `gateway:\n  proxy:\n    distributor:\n      url: ${cluster.url}\n      timeout: ${timeoutSeconds}s\n`;
  const config = new WatchedConfig(yaml(60));
  cleanups.push(() => config.remove());
  const gw = await startGateway([`-config.file=${config.file}`, '-control-plane.dns.lookup-period=1s']);
  cleanups.push(() => gw.stop());
  await eventually(
    async () => (await upstreamOf(gw.url, 'distributor'))?.endpoints?.filter((e) => e.state === 'READY').length === 2,
    'two READY distributors',
    10_000,
  );

  const body = encodeRemoteWrite([{ labels: { __name__: 'reload_probe', job: 'e2e' }, samples: [{ value: 1, timestamp: 1_700_000_000_000 }] }]);
  let sendRest: () => void = () => undefined;
  const answer = new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = http.request(`${gw.url}/api/v1/push`, { method: 'POST', headers: { 'content-length': body.length, 'content-encoding': 'snappy' } }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.write(body.subarray(0, 4));
    sendRest = () => req.end(body.subarray(4));
  });
  // The gateway has routed the push (headers are in) and waits for the rest of the body.
  await eventually(async () => /metrics_gateway_inflight_requests\{backend="distributor"\} 1/.test(await (await request(`${gw.url}/metrics`)).body.text()), 'the push in flight', 5000);
  config.replaceAtomically(yaml(70));
  await eventually(async () => (await upstreamOf(gw.url, 'distributor'))?.timeout_ms === 70_000, 'the new distributor settings applied', 10_000);
  sendRest();
  const { status, text } = await answer;
  expect(status, text).toBe(200);
  expect(cluster.received().unique).toBe(1);
});

// Found while probing control-plane restarts: a control plane starting while the DNS server of a
// dns:// backend fails used to exit with status 0 and no error, mid-start. Start-up waits (bounded)
// for the first DNS answers, and the only timer that would end the wait was unref'd, so Node's event
// loop ran empty. A restarted control plane must come up and serve, DNS or not.
it('a control plane started while DNS fails comes up instead of exiting 0', async () => {
  const dns = await DnsServer.start();
  cleanups.push(() => dns.close());
  dns.setRecords('distributor.test', []);
  dns.setFailure('SERVFAIL');
  const config = new WatchedConfig(`gateway:\n  proxy:\n    distributor:\n      url: dns://${dns.authority}/distributor.test:9095\n`);
  cleanups.push(() => config.remove());
  const cp = await startControlPlaneProcess(config);
  cleanups.push(() => cp.child.stop('SIGKILL'));
  expect(cp.child.proc.exitCode).toBeNull();
  expect(dns.queryCount('distributor.test')).toBeGreaterThan(0);
});
