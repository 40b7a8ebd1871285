import { TYPE_URL, type TypeUrl } from '../../xds/resource.js';
import type { AcceptedResources } from './accepted-state.js';
import { edsNameOf, rdsNamesOf } from '../../xds/decoded.js';

// What the gateway subscribes to, derived from what it has accepted, the way gRPC's xDS client
// follows dependencies (gRFC A27): LDS for its one listener; RDS for the route configurations that
// listener's HttpConnectionManagers name; CDS for every cluster (wildcard); EDS for the endpoint
// sets of the accepted EDS clusters.

export interface TypeSubscription {
  /** LDS/CDS "all resources": sent as an empty resource_names list. */
  readonly wildcard: boolean;
  readonly names: ReadonlySet<string>;
}

export function desiredSubscription(typeUrl: TypeUrl, listenerName: string, accepted: AcceptedResources): TypeSubscription {
  switch (typeUrl) {
    case TYPE_URL.listener:
      return { wildcard: false, names: new Set([listenerName]) };
    case TYPE_URL.cluster:
      return { wildcard: true, names: new Set() };
    case TYPE_URL.route: {
      const names = new Set<string>();
      for (const l of accepted.listeners.values()) for (const n of rdsNamesOf(l)) names.add(n);
      return { wildcard: false, names };
    }
    case TYPE_URL.endpoint: {
      const names = new Set<string>();
      for (const c of accepted.clusters.values()) {
        const n = edsNameOf(c);
        if (n) names.add(n);
      }
      return { wildcard: false, names };
    }
  }
}

export function sameSubscription(a: TypeSubscription, b: TypeSubscription): boolean {
  if (a.wildcard !== b.wildcard || a.names.size !== b.names.size) return false;
  for (const n of a.names) if (!b.names.has(n)) return false;
  return true;
}

/** Whether a resource of this name belongs to the subscription. */
export function wants(sub: TypeSubscription, name: string): boolean {
  return sub.wildcard || sub.names.has(name);
}

/**
 * resource_names of a request. A wildcard is the legacy empty list: valid as long as the client
 * never names resources of that type on the stream, which it never does for CDS
 * (xds_protocol.rst, "How the client specifies what resources to return"). Sorted, so equal
 * subscriptions give equal requests.
 */
export function requestNames(sub: TypeSubscription): string[] {
  return sub.wildcard ? [] : [...sub.names].sort();
}
