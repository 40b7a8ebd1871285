// Balancing config end to end: YAML → the standard Cluster fields (PGV-valid, shown by the snapshot
// API) → a gateway fed over ADS that ejects a sick distributor and says so (its config API, its load
// reports, the fleet dashboard), and a real @grpc/grpc-js-xds client that must ACK the same Cluster.
// Real control plane, real DNS, real httpgrpc servers on 127.0.0.2-.4.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../app/config.js';
import { effectiveBackends } from '../control-plane/proxy-config.js';
import { translate } from '../control-plane/translate.js';
import { OUTLIER_DEFAULTS } from '../core/balancing.js';
import { TYPE_URL } from '../xds/resource.js';
import { validateResource } from '../xds/validate.js';
import { balancingFromCluster, LEAST_REQUEST_TYPE_URL, ROUND_ROBIN_TYPE_URL } from '../xds/balancing-policy.js';
import type { ValueTree } from '../core/config-schema.js';
import { decodeResource, encodeResource, type PlainMessage } from '../xds/protos.js';
import type { DecodedCluster } from '../xds/decoded.js';
import { startDistributors, type Distributors } from './support/distributors.js';
import { getJson, snapshotOf, until } from './support/control-plane.js';
import { handleCall } from './support/grpc-xds-client.js';
import { startXdsPair, type XdsPair } from './support/xds-pair.js';
import { backend, realisticInput } from './support/fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'mgw-balancing-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const block = (url: string, extra: string): string =>
  `gateway:\n  proxy:\n    distributor:\n      url: ${url}\n      timeout: 30s\n${extra}`;
const OUTLIER = (consecutive: number, lb = 'least_request'): string =>
  `      load_balancing: ${lb}\n      outlier_detection:\n        enabled: true\n        consecutive_5xx: ${consecutive}\n        interval: 500ms\n` +
  `        base_ejection_time: 1m\n        max_ejection_percent: 34\n`;

function clusterOf(yaml: string): PlainMessage {
  const file = join(dir, `c${Math.random()}.yaml`);
  writeFileSync(file, yaml);
  const cfg = loadConfig([`-config.file=${file}`]);
  const proxy = (cfg.tree['gateway'] as ValueTree)['proxy'] as ValueTree;
  const out = translate(realisticInput({ backends: effectiveBackends(proxy) }));
  return out.get(TYPE_URL.cluster)!.find((r) => r.name === 'distributor')!.view as PlainMessage;
}

describe('balancing config → standard Cluster fields', () => {
  it('writes outlier_detection and a least_request → round_robin list, PGV-valid, and reads them back', () => {
    const c = clusterOf(block('dns:///distributor:9095', OUTLIER(4)));
    expect(validateResource(TYPE_URL.cluster, c)).toEqual([]);
    const policies = (c['load_balancing_policy'] as { policies: { typed_extension_config: { typed_config: Record<string, unknown> } }[] }).policies;
    expect(policies.map((p) => p.typed_extension_config.typed_config['@type'])).toEqual([LEAST_REQUEST_TYPE_URL, ROUND_ROBIN_TYPE_URL]);
    expect(policies[0]!.typed_extension_config.typed_config['choice_count']).toEqual({ value: 2 });
    expect(c['lb_policy']).toBe('ROUND_ROBIN');
    expect(c['outlier_detection']).toMatchObject({ consecutive_5xx: { value: 4 }, interval: { nanos: 500_000_000 }, base_ejection_time: { seconds: 60 }, max_ejection_percent: { value: 34 }, success_rate_stdev_factor: { value: 1900 } });
    const back = balancingFromCluster(c as unknown as DecodedCluster);
    expect(back).toEqual({ loadBalancing: 'least_request', outlierDetection: { ...OUTLIER_DEFAULTS, consecutive_5xx: 4, interval_ms: 500, base_ejection_time_ms: 60_000, max_ejection_percent: 34 } });
  });

  it('reads zeros back as zeros after the wire (empty wrappers), not as Envoy defaults', () => {
    const c = clusterOf(block('dns:///distributor:9095', OUTLIER(0) + '        enforcing_success_rate: 0\n'));
    const decoded = decodeResource(TYPE_URL.cluster, encodeResource(TYPE_URL.cluster, c)) as unknown as DecodedCluster;
    expect(balancingFromCluster(decoded).outlierDetection).toMatchObject({ consecutive_5xx: 0, enforcing_success_rate: 0, consecutive_gateway_failure: 5, interval_ms: 500 });
  });

  it('adds nothing for the defaults (round robin, no outlier detection), so existing Clusters are unchanged', () => {
    const c = clusterOf(block('dns:///distributor:9095', ''));
    expect(c['load_balancing_policy']).toBeUndefined();
    expect(c['outlier_detection']).toBeUndefined();
    const plain = translate(realisticInput({ backends: [backend('distributor', 'dns:///distributor:9095', { timeoutMs: 30_000 })] }));
    expect(plain.get(TYPE_URL.cluster)!.find((r) => r.name === 'distributor')!.view).toEqual(c);
  });

  it('names file:line:col, the field, the value and what is allowed for bad values', () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, block('dns:///d:9095', '      load_balancing: fastest\n      outlier_detection:\n        max_ejection_percent: 120\n        interval: 0s\n'));
    expect(() => loadConfig([`-config.file=${file}`])).toThrow(
      `${file}:6:23: gateway.proxy.distributor.load_balancing: must be one of round_robin, least_request; got "fastest"\n` +
        `${file}:8:31: gateway.proxy.distributor.outlier_detection.max_ejection_percent: must be a percentage 0-100, got 120\n` +
        `${file}:9:19: gateway.proxy.distributor.outlier_detection.interval: must be greater than 0, got 0`,
    );
    expect(() => loadConfig(['-gateway.proxy.distributor.outlier-detection.enforcing-success-rate=101'])).toThrow(
      'gateway.proxy.distributor.outlier_detection.enforcing_success_rate: must be a percentage 0-100, got 101',
    );
  });
});

describe('a gateway and a gRPC xDS client on the same Cluster', () => {
  let cluster: Distributors;
  let pair: XdsPair;
  const post = (): Promise<number> => pair.post();

  beforeAll(async () => {
    cluster = await startDistributors(['127.0.0.2', '127.0.0.3', '127.0.0.4']);
    pair = await startXdsPair({ yaml: block(cluster.url, OUTLIER(3)), name: 'balancing', cpArgs: ['-control-plane.load-reporting-interval=1s'] });
  });

  afterAll(async () => {
    await pair?.close();
    await cluster?.close();
  });

  interface Applied {
    applied: { upstreams: { cluster: string; load_balancing?: string; outlier_detection?: { consecutive_5xx: number } | null; endpoints?: { address: string; outlier?: { ejected: boolean; reason?: string; times: number } }[] }[] } | null;
  }
  const distributorUpstream = async () => (await getJson<Applied>(`${pair.gw.url}/gateway/api/v1/config`)).applied?.upstreams.find((u) => u.cluster === 'distributor');

  it('serves the fields in the snapshot API; the gRPC client ACKs the Cluster and its calls work', async () => {
    const snap = await snapshotOf(pair.cp.url);
    const c = snap.resources['Cluster']!.find((r) => r.name === 'distributor')!.resource;
    expect(c['outlier_detection']).toMatchObject({ consecutive_5xx: { value: 3 } });
    expect(c['load_balancing_policy']).toBeDefined();
    for (let i = 0; i < 6; i++) expect(await handleCall(pair.grpcClient)).toBe(200);
    await pair.grpcAcked(TYPE_URL.cluster, snap.versions['Cluster']);
  });

  it('ejects a sick distributor: shown per endpoint by the gateway and as "ejected by 1 of 1" on the dashboard', async () => {
    await until(async () => (await distributorUpstream())?.endpoints?.length === 3, 10_000, 'the gateway to apply 3 endpoints');
    const up = await distributorUpstream();
    expect(up?.load_balancing).toBe('least_request');
    expect(up?.outlier_detection?.consecutive_5xx).toBe(3);
    const sick = cluster.servers[0]!;
    sick.handler = () => ({ dskitError: { code: 503, body: 'broken' } });
    const address = `${sick.host}:${cluster.port}`;
    let failed = 0;
    for (let i = 0; i < 200 && (await distributorUpstream())?.endpoints?.find((e) => e.address === address)?.outlier?.ejected !== true; i++) {
      for (let j = 0; j < 5; j++) if ((await post()) !== 200) failed++;
    }
    expect(failed).toBe(3);
    const ep = (await distributorUpstream())!.endpoints!.find((e) => e.address === address)!;
    expect(ep.outlier).toMatchObject({ ejected: true, reason: 'consecutive_5xx', times: 1 });
    for (let i = 0; i < 30; i++) expect(await post()).toBe(200);
    interface Backends {
      backends: { name: string; endpoints: { address: string; ejectedBy: number; reporters: number }[] }[];
    }
    await until(async () => {
      const b = (await getJson<Backends>(`${pair.cp.url}/control-plane/api/v1/dashboard/backends`)).backends.find((x) => x.name === 'distributor');
      const e = b?.endpoints.find((x) => x.address === address);
      return e?.ejectedBy === 1 && e.reporters >= 1;
    }, 10_000, 'the dashboard to show the endpoint ejected by the gateway');
    sick.handler = () => ({ body: 'ok' });
  });

  it('applies a live config change of these fields without a failed request or a new connection', async () => {
    const peers = cluster.servers.slice(1).map((s) => s.received.at(-1)!.peer);
    let stop = false;
    const load = (async () => {
      const statuses: number[] = [];
      for (let i = 0; i < 20_000 && !stop; i++) statuses.push(await post());
      return statuses;
    })();
    pair.cp.writeConfig(block(cluster.url, OUTLIER(7, 'round_robin')));
    await until(async () => (await distributorUpstream())?.outlier_detection?.consecutive_5xx === 7, 15_000, 'the gateway to apply consecutive_5xx 7');
    expect((await distributorUpstream())?.load_balancing).toBe('round_robin');
    // The ejection survived the change: the policy is applied in place.
    expect((await distributorUpstream())!.endpoints!.find((e) => e.address === `${cluster.servers[0]!.host}:${cluster.port}`)?.outlier?.ejected).toBe(true);
    const more = Date.now() + 300;
    while (Date.now() < more) await new Promise((r) => setTimeout(r, 20));
    stop = true;
    const statuses = await load;
    expect(statuses.length).toBeGreaterThan(0);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    cluster.servers.slice(1).forEach((s, i) => expect(s.received.at(-1)!.peer).toBe(peers[i]));
  });
});
