import { TYPE_URL, TYPE_ORDER, type TypeUrl } from '../../xds/resource.js';
import type {
  DecodedCluster, DecodedClusterLoadAssignment, DecodedListener, DecodedRouteConfiguration,
} from '../../xds/decoded.js';
import { decodeResource } from '../../xds/protos.js';
import type { CheckedResource } from './response-check.js';

// The resources the gateway has ACKed: the last good config. Each change produces a new
// AcceptedResources value (maps are never mutated once handed out), so a consumer can keep the
// one it built its routing state from and compare, as grpc-js replaces pickers.

export interface AcceptedResources {
  readonly listeners: ReadonlyMap<string, DecodedListener>;
  readonly routes: ReadonlyMap<string, DecodedRouteConfiguration>;
  readonly clusters: ReadonlyMap<string, DecodedCluster>;
  readonly endpoints: ReadonlyMap<string, DecodedClusterLoadAssignment>;
  /** Last ACKed version_info per type ('' if none). */
  readonly versions: Readonly<Record<TypeUrl, string>>;
}

/**
 * The accepted resources as the bytes the control plane sent (each Any's value) with their versions:
 * what a gateway's primary process hands its workers, so a worker decodes exactly what was ACKed,
 * whatever the resources carry, with no second schema for the hand-over.
 */
export interface RawAccepted {
  readonly versions: Readonly<Record<TypeUrl, string>>;
  readonly resources: ReadonlyArray<readonly [TypeUrl, ReadonlyArray<readonly [string, Uint8Array]>]>;
}

/** Rebuild AcceptedResources from the bytes RawAccepted holds (already validated by whoever ACKed them). */
export function acceptedFromRaw(raw: RawAccepted): AcceptedResources {
  const maps: Record<AcceptedField, Map<string, unknown>> = { listeners: new Map(), routes: new Map(), clusters: new Map(), endpoints: new Map() };
  for (const [typeUrl, entries] of raw.resources) {
    const field = ACCEPTED_FIELD[typeUrl];
    for (const [name, bytes] of entries) maps[field].set(name, decodeResource(typeUrl, bytes));
  }
  return { ...(maps as unknown as Omit<AcceptedResources, 'versions'>), versions: { ...raw.versions } };
}

export type AcceptedField = 'listeners' | 'routes' | 'clusters' | 'endpoints';

/** The AcceptedResources map holding each type. */
export const ACCEPTED_FIELD: Readonly<Record<TypeUrl, AcceptedField>> = {
  [TYPE_URL.listener]: 'listeners',
  [TYPE_URL.route]: 'routes',
  [TYPE_URL.cluster]: 'clusters',
  [TYPE_URL.endpoint]: 'endpoints',
};

/**
 * LDS and CDS responses carry every resource of the subscription, so a name left out is deleted;
 * RDS and EDS responses may carry only the changed ones (xds_protocol.rst, "Deleting Resources"
 * and "Resource updates").
 */
export function isFullStateType(typeUrl: TypeUrl): boolean {
  return typeUrl === TYPE_URL.listener || typeUrl === TYPE_URL.cluster;
}

function emptyVersions(): Record<TypeUrl, string> {
  const v = {} as Record<TypeUrl, string>;
  for (const t of TYPE_ORDER) v[t] = '';
  return v;
}

export class AcceptedStore {
  private value: AcceptedResources = {
    listeners: new Map(),
    routes: new Map(),
    clusters: new Map(),
    endpoints: new Map(),
    versions: emptyVersions(),
  };
  /** Bytes of each accepted resource, per type: how "unchanged" is decided. */
  private readonly bytes = new Map<TypeUrl, Map<string, Buffer>>(TYPE_ORDER.map((t) => [t, new Map()]));

  get current(): AcceptedResources {
    return this.value;
  }

  /** The accepted resources' bytes, for handing over to another process (see RawAccepted). */
  raw(): RawAccepted {
    return { versions: this.value.versions, resources: [...this.bytes].map(([t, m]) => [t, [...m]] as const) };
  }

  version(typeUrl: TypeUrl): string {
    return this.value.versions[typeUrl];
  }

  /**
   * Applies an ACKed response. Returns whether any resource was added, removed or changed;
   * a re-send of the same bytes (e.g. after a reconnect) only records the version.
   */
  apply(typeUrl: TypeUrl, version: string, resources: ReadonlyMap<string, CheckedResource>): boolean {
    const known = this.bytesOf(typeUrl);
    const nextBytes = new Map(known);
    let changed = false;
    if (isFullStateType(typeUrl)) {
      for (const name of known.keys()) {
        if (!resources.has(name)) {
          nextBytes.delete(name);
          changed = true;
        }
      }
    }
    for (const [name, r] of resources) {
      const old = known.get(name);
      if (!old || !old.equals(r.bytes)) {
        // A copy: the received bytes are a view into the whole response message, which would
        // otherwise stay in memory for as long as any one of its resources is kept.
        nextBytes.set(name, Buffer.from(r.bytes));
        changed = true;
      }
    }
    const versions = { ...this.value.versions, [typeUrl]: version };
    if (!changed) {
      this.value = { ...this.value, versions };
      return false;
    }
    const field = ACCEPTED_FIELD[typeUrl];
    const decoded = new Map<string, unknown>(this.value[field]);
    for (const name of decoded.keys()) if (!nextBytes.has(name)) decoded.delete(name);
    for (const [name, r] of resources) {
      // Unchanged resources keep their old decoded object, so consumers can compare by identity.
      if (known.get(name) !== nextBytes.get(name)) decoded.set(name, r.decoded);
    }
    this.bytes.set(typeUrl, nextBytes);
    this.value = { ...this.value, [field]: decoded, versions };
    return true;
  }

  /**
   * Drops accepted resources of `typeUrl` whose names are no longer subscribed (a route config
   * or endpoint set nothing refers to any more). Returns whether anything was dropped.
   */
  retain(typeUrl: TypeUrl, names: ReadonlySet<string>): boolean {
    const known = this.bytesOf(typeUrl);
    const drop = [...known.keys()].filter((n) => !names.has(n));
    if (drop.length === 0) return false;
    const nextBytes = new Map(known);
    const field = ACCEPTED_FIELD[typeUrl];
    const decoded = new Map<string, unknown>(this.value[field]);
    for (const n of drop) {
      nextBytes.delete(n);
      decoded.delete(n);
    }
    this.bytes.set(typeUrl, nextBytes);
    this.value = { ...this.value, [field]: decoded };
    return true;
  }

  private bytesOf(typeUrl: TypeUrl): Map<string, Buffer> {
    const m = this.bytes.get(typeUrl);
    if (!m) throw new Error(`xds client: unknown type URL ${typeUrl}`);
    return m;
  }
}
