// Envoy's "local cluster" for zone-aware routing, as the control plane counts it: how many gateways
// of the fleet run in each zone. Envoy reads it from a second cluster of its own proxies; our
// gateways do not see each other, but the control plane sees every stream's Node.locality (over all
// replicas, control-plane/fleet/). So each zone's LocalityLbEndpoints carries, under
// filter_metadata["metrics-gateway"], `gateways`: connected xDS clients in that zone. Clients with no
// zone, or in a zone without endpoints, are not counted: they balance over every endpoint, so they
// take the same fraction of every zone and leave the zones' proportions as they were. Standard clients
// ignore the metadata; the gateway feeds it to the arithmetic (data-plane/httpgrpc/zone-chooser.ts).

import type { DecodedClusterLoadAssignment } from './decoded.js';
import { GATEWAY_METADATA_KEY, struct } from './gateway-metadata.js';
import type { PlainMessage } from './protos.js';

/** Connected xDS clients per Node.locality.zone over the fleet. */
export type ZoneGatewayCounts = ReadonlyMap<string, number>;

/** The LocalityLbEndpoints.metadata for one zone; none while no zoned client is counted. */
export function zoneGatewaysMetadata(zone: string, counts: ZoneGatewayCounts | undefined): PlainMessage | undefined {
  if (counts === undefined || counts.size === 0) return undefined;
  return { filter_metadata: { [GATEWAY_METADATA_KEY]: struct({ gateways: counts.get(zone) ?? 0 }) } };
}

/**
 * Gateways per endpoint zone from a ClusterLoadAssignment; undefined when the control plane sent no
 * counts (an older control plane, or no zoned client yet): the balancer then assumes an even spread.
 */
export function zoneGatewaysOf(cla: DecodedClusterLoadAssignment): ZoneGatewayCounts | undefined {
  const out = new Map<string, number>();
  for (const l of cla.endpoints ?? []) {
    const zone = l.locality?.zone;
    const n = l.metadata?.filter_metadata?.[GATEWAY_METADATA_KEY]?.fields?.['gateways']?.numberValue;
    if (zone && n !== undefined) out.set(zone, n);
  }
  return out.size === 0 ? undefined : out;
}
