import { createHash } from 'node:crypto';
import { shortType, TYPE_ORDER, type TypeUrl, type XdsResource } from '../../xds/resource.js';

// An immutable, versioned set of xDS resources: what the whole fleet should run.
// Modelled on go-control-plane pkg/cache/v3/snapshot.go: a version per type URL, and a
// consistency check run before the cache will publish it.

/** Length of the hex versions below: 64 bits is plenty to tell configs apart. */
const VERSION_HEX_CHARS = 16;

/**
 * Version of a set of resources: short hex of a sha256 over the (name, value) pairs sorted
 * by name, so equal content gives an equal version whatever order it was built in.
 */
export function versionOf(resources: Iterable<XdsResource>): string {
  const sorted = [...resources].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const h = createHash('sha256');
  for (const r of sorted) {
    // Length-prefix both parts so ('ab','c') and ('a','bc') hash differently.
    h.update(`${Buffer.byteLength(r.name)}:${r.name}|${r.value.byteLength}:`);
    h.update(r.value);
  }
  return h.digest('hex').slice(0, VERSION_HEX_CHARS);
}

/** Version of one resource (delta xDS `Resource.version`): short hex sha256 of its bytes. */
export function resourceVersion(resource: XdsResource): string {
  return createHash('sha256').update(resource.value).digest('hex').slice(0, VERSION_HEX_CHARS);
}

export interface TypeSnapshot {
  readonly version: string;
  readonly resources: ReadonlyMap<string, XdsResource>;
}

/** Input for one type: its resources and, optionally, a version (default: versionOf(resources)). */
export interface TypeInput {
  readonly version?: string;
  readonly resources: readonly XdsResource[];
}

const EMPTY_MAP: ReadonlyMap<string, XdsResource> = new Map();

export class Snapshot {
  private readonly types: ReadonlyMap<TypeUrl, TypeSnapshot>;
  private readonly problemsAtBuild: readonly string[];
  // Per-resource hashes are derived data; computed on first use, never changed.
  private readonly hashes = new WeakMap<XdsResource, string>();

  /** Types not given are empty, with the version of an empty set. */
  constructor(input: Partial<Record<TypeUrl, TypeInput>>) {
    const types = new Map<TypeUrl, TypeSnapshot>();
    const problems: string[] = [];
    for (const typeUrl of TYPE_ORDER) {
      const given = input[typeUrl];
      const list = given?.resources ?? [];
      const resources = new Map<string, XdsResource>();
      for (const r of list) {
        if (r.typeUrl !== typeUrl) problems.push(`${typeUrl}: resource "${r.name}" has type ${r.typeUrl}`);
        // A response naming a resource twice must be NACKed by clients (xds_protocol.rst,
        // "Duplicate Resource Names"), so a snapshot with duplicates is never served.
        if (resources.has(r.name)) problems.push(`${typeUrl}: duplicate resource name "${r.name}"`);
        resources.set(r.name, r);
      }
      types.set(typeUrl, { version: given?.version ?? versionOf(resources.values()), resources });
    }
    for (const typeUrl of Object.keys(input)) {
      if (!types.has(typeUrl as TypeUrl)) problems.push(`unknown type URL ${typeUrl}`);
    }
    this.types = types;
    this.problemsAtBuild = problems;
  }

  /** Groups resources by their type URL; every version is computed with versionOf. */
  static fromResources(resources: Iterable<XdsResource>): Snapshot {
    const byType: Partial<Record<TypeUrl, XdsResource[]>> = {};
    for (const r of resources) (byType[r.typeUrl] ??= []).push(r);
    const input: Partial<Record<TypeUrl, TypeInput>> = {};
    for (const [typeUrl, list] of Object.entries(byType) as [TypeUrl, XdsResource[]][]) input[typeUrl] = { resources: list };
    return new Snapshot(input);
  }

  version(typeUrl: string): string {
    return this.types.get(typeUrl as TypeUrl)?.version ?? '';
  }

  resources(typeUrl: string): ReadonlyMap<string, XdsResource> {
    return this.types.get(typeUrl as TypeUrl)?.resources ?? EMPTY_MAP;
  }

  /** Version per type URL, in push order. */
  versions(): Record<TypeUrl, string> {
    const out = {} as Record<TypeUrl, string>;
    for (const [typeUrl, t] of this.types) out[typeUrl] = t.version;
    return out;
  }

  /** The delta-xDS version of one resource of this snapshot. */
  hashOf(resource: XdsResource): string {
    let h = this.hashes.get(resource);
    if (h === undefined) {
      h = resourceVersion(resource);
      this.hashes.set(resource, h);
    }
    return h;
  }

  /**
   * Problems that make this snapshot unsafe to serve; empty when it is consistent.
   * Every name a resource refers to (cluster → endpoints, listener → route config,
   * route config → cluster) must exist here, or clients would warm forever or blackhole
   * traffic (xds_protocol.rst, "Eventual consistency considerations").
   */
  consistent(): string[] {
    const problems = [...this.problemsAtBuild];
    for (const [typeUrl, t] of this.types) {
      for (const r of t.resources.values()) {
        for (const ref of r.refs) {
          const target = this.resources(ref.typeUrl);
          for (const name of ref.names) {
            if (!target.has(name)) problems.push(`${shortType(typeUrl)} "${r.name}" refers to missing ${shortType(ref.typeUrl)} "${name}"`);
          }
        }
      }
    }
    return problems;
  }
}
