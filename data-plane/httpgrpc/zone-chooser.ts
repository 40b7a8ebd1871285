// Envoy's zone-aware routing arithmetic (arch_overview/load_balancing/zone_aware_routing;
// ZoneAwareLoadBalancerBase::regenerateLocalityRoutingStructures and tryChooseLocalLocalityHosts), as a
// pure function of: this gateway's zone, healthy endpoints per zone (upstream), and gateways per zone
// (Envoy's "local cluster"). The balancer's first layer: it picks a zone, then the rest of the balancer
// picks within it.

import type { ZoneAwareSettings } from '../../core/balancing.js';

export { ZONE_AWARE_DEFAULTS, type ZoneAwareSettings } from '../../core/balancing.js';

export type ZonePlan =
  /** No zone-aware routing: no local zone, too few endpoints, or the local zone is empty. */
  | { readonly kind: 'all'; readonly why: string }
  /** The local zone holds at least its share: every request stays local. */
  | { readonly kind: 'local'; readonly zone: string }
  /**
   * Local with probability `localShare` (0..1); otherwise a remote zone, in proportion to its residual
   * capacity (its share of endpoints above its share of gateways).
   */
  | { readonly kind: 'spill'; readonly zone: string; readonly localShare: number; readonly residual: ReadonlyArray<readonly [string, number]> };

/**
 * @param healthy healthy (READY, not ejected) endpoints per zone
 * @param gateways gateways per zone (the local cluster); zones missing count 0
 */
export function planZones(localZone: string | undefined, healthy: ReadonlyMap<string, number>, gateways: ReadonlyMap<string, number>, s: ZoneAwareSettings): ZonePlan {
  if (localZone === undefined || localZone === '') return { kind: 'all', why: 'this gateway has no zone' };
  let upstreamTotal = 0;
  for (const n of healthy.values()) upstreamTotal += n;
  if (upstreamTotal < s.minClusterSize) return { kind: 'all', why: `${upstreamTotal} healthy endpoints < min_cluster_size ${s.minClusterSize}` };
  const localHealthy = healthy.get(localZone) ?? 0;
  // No READY endpoint in the local zone: move at once, here in the data plane.
  if (localHealthy === 0) return { kind: 'all', why: `no healthy endpoint in zone ${localZone}` };
  let gatewayTotal = 0;
  for (const n of gateways.values()) gatewayTotal += n;
  const localGateways = gateways.get(localZone) ?? 0;
  if (gatewayTotal === 0 || localGateways === 0) return { kind: 'local', zone: localZone };
  const upstreamShare = (z: string): number => (healthy.get(z) ?? 0) / upstreamTotal;
  const gatewayShare = (z: string): number => (gateways.get(z) ?? 0) / gatewayTotal;
  if (upstreamShare(localZone) >= gatewayShare(localZone)) return { kind: 'local', zone: localZone };
  const residual: [string, number][] = [];
  for (const z of [...healthy.keys()].sort()) {
    if (z === localZone) continue;
    const r = upstreamShare(z) - gatewayShare(z);
    if (r > 0) residual.push([z, r]);
  }
  return { kind: 'spill', zone: localZone, localShare: upstreamShare(localZone) / gatewayShare(localZone), residual };
}

/** The zone for one request under `plan`, or undefined for "any endpoint". `random` in [0, 1). */
export function chooseZone(plan: ZonePlan, s: ZoneAwareSettings, random: () => number = Math.random): string | undefined {
  if (plan.kind === 'all') return undefined;
  if (s.routingEnabled < 100 && random() * 100 >= s.routingEnabled) return undefined;
  if (plan.kind === 'local') return plan.zone;
  if (random() < plan.localShare) return plan.zone;
  let total = 0;
  for (const [, r] of plan.residual) total += r;
  if (total <= 0) return undefined;
  let x = random() * total;
  for (const [z, r] of plan.residual) {
    if (x < r) return z;
    x -= r;
  }
  return plan.residual.at(-1)?.[0];
}
