// `gateway.proxy.<backend>.zone_aware` (issue 20): Envoy's ZoneAwareLbConfig fields and defaults, flags
// mirroring the YAML, file:line:col errors, and the standard Cluster field it becomes:
// common_lb_config.zone_aware_lb_config under round robin, each typed policy's
// locality_lb_config.zone_aware_lb_config under a load_balancing_policy list (Envoy reads that one
// there). PGV-valid, and read back the same after the wire. (grpc-js-xds ACKing it: zone-aware-xds.)
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../app/config.js';
import { effectiveBackends } from '../control-plane/proxy-config.js';
import { translate } from '../control-plane/translate.js';
import { ZONE_AWARE_DEFAULTS } from '../core/balancing.js';
import type { ValueTree } from '../core/config-schema.js';
import { balancingFromCluster } from '../xds/balancing-policy.js';
import type { DecodedCluster } from '../xds/decoded.js';
import { decodeResource, encodeResource, type PlainMessage } from '../xds/protos.js';
import { TYPE_URL } from '../xds/resource.js';
import { validateResource } from '../xds/validate.js';
import { realisticInput } from './support/fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'mgw-zone-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ZONES = '      zones:\n        zone-a: dns:///a:9095\n        zone-b: dns:///b:9095\n';
const yaml = (extra: string): string => `gateway:\n  proxy:\n    distributor:\n${ZONES}${extra}`;

function clusterOf(text: string, args: string[] = []): PlainMessage {
  const file = join(dir, `c${Math.random()}.yaml`);
  writeFileSync(file, text);
  const cfg = loadConfig([`-config.file=${file}`, ...args]);
  const proxy = (cfg.tree['gateway'] as ValueTree)['proxy'] as ValueTree;
  return translate(realisticInput({ backends: effectiveBackends(proxy) })).get(TYPE_URL.cluster)!.find((r) => r.name === 'distributor')!.view as PlainMessage;
}

const readBack = (c: PlainMessage): ReturnType<typeof balancingFromCluster> =>
  balancingFromCluster(decodeResource(TYPE_URL.cluster, encodeResource(TYPE_URL.cluster, c)) as unknown as DecodedCluster);

describe('zone_aware → the standard Cluster field', () => {
  it("takes Envoy's defaults for a zoned backend: routing_enabled 100, min_cluster_size 6, fail_traffic_on_panic false", () => {
    const c = clusterOf(yaml(''));
    expect(validateResource(TYPE_URL.cluster, c)).toEqual([]);
    expect(c['common_lb_config']).toEqual({ zone_aware_lb_config: { routing_enabled: { value: 100 }, min_cluster_size: { value: 6 } } });
    expect(readBack(c)).toEqual({ loadBalancing: 'round_robin', zoneAware: ZONE_AWARE_DEFAULTS });
  });

  it('puts set values into each typed policy under least_request, and reads them back after the wire', () => {
    const c = clusterOf(yaml('      load_balancing: least_request\n      zone_aware:\n        routing_enabled: 80\n        min_cluster_size: 0\n        fail_traffic_on_panic: true\n'));
    expect(validateResource(TYPE_URL.cluster, c)).toEqual([]);
    expect(c['common_lb_config']).toBeUndefined();
    const policies = (c['load_balancing_policy'] as { policies: { typed_extension_config: { typed_config: Record<string, unknown> } }[] }).policies;
    for (const p of policies) {
      expect(p.typed_extension_config.typed_config['locality_lb_config']).toEqual({ zone_aware_lb_config: { routing_enabled: { value: 80 }, min_cluster_size: { value: 0 }, fail_traffic_on_panic: true } });
    }
    expect(readBack(c)).toEqual({ loadBalancing: 'least_request', zoneAware: { routingEnabled: 80, minClusterSize: 0, failTrafficOnPanic: true } });
  });

  it('flags mirror the YAML; a backend without zones gets no zone-aware field', () => {
    const c = clusterOf(yaml(''), ['-gateway.proxy.distributor.zone-aware.min-cluster-size=9', '-gateway.proxy.distributor.zone-aware.routing-enabled=50']);
    expect(readBack(c).zoneAware).toEqual({ ...ZONE_AWARE_DEFAULTS, minClusterSize: 9, routingEnabled: 50 });
    const plain = clusterOf('gateway:\n  proxy:\n    distributor:\n      url: dns:///d:9095\n      zone_aware:\n        min_cluster_size: 3\n');
    expect(plain['common_lb_config']).toBeUndefined();
    expect(readBack(plain).zoneAware).toBeUndefined();
  });

  it('names file:line:col, the field, the value and what is allowed for bad values', () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, yaml('      zone_aware:\n        routing_enabled: 120\n        min_cluster_size: -1\n'));
    expect(() => loadConfig([`-config.file=${file}`])).toThrow(
      `${file}:8:26: gateway.proxy.distributor.zone_aware.routing_enabled: must be a percentage 0-100, got 120\n` +
        `${file}:9:27: gateway.proxy.distributor.zone_aware.min_cluster_size: must be 0 or more (a uint32), got -1`,
    );
    expect(() => loadConfig(['-gateway.proxy.distributor.zone-aware.routing-enabled=101'])).toThrow(
      'gateway.proxy.distributor.zone_aware.routing_enabled: must be a percentage 0-100, got 101',
    );
  });
});
