import { TYPE_URL, type ResourceRef, type TypeUrl, type XdsResource } from '../../xds/resource.js';
import { Snapshot } from '../../control-plane/xds/snapshot.js';

// Snapshot fixtures for the xDS cache/server tests. The servers never decode resources, so a
// resource's bytes are just "<name>|<content>": tests can read back what was sent.

function res(typeUrl: TypeUrl, name: string, content: string, refs: ResourceRef[] = []): XdsResource {
  return { name, typeUrl, value: Buffer.from(`${name}|${content}`), refs, view: { name, content } };
}

/** A cluster; with `eds` it names that endpoint set (which must then exist). */
export function cluster(name: string, content = 'v1', eds?: string): XdsResource {
  return res(TYPE_URL.cluster, name, content, eds ? [{ typeUrl: TYPE_URL.endpoint, names: [eds] }] : []);
}

export function endpoints(name: string, content = 'v1'): XdsResource {
  return res(TYPE_URL.endpoint, name, content);
}

/** A listener; with `route` it names that route configuration. */
export function listener(name: string, content = 'v1', route?: string): XdsResource {
  return res(TYPE_URL.listener, name, content, route ? [{ typeUrl: TYPE_URL.route, names: [route] }] : []);
}

export function routeConfig(name: string, content = 'v1', clusters: string[] = []): XdsResource {
  return res(TYPE_URL.route, name, content, clusters.length ? [{ typeUrl: TYPE_URL.cluster, names: clusters }] : []);
}

export function snapshotOf(...resources: XdsResource[]): Snapshot {
  return Snapshot.fromResources(resources);
}

/** "<name>|<content>" bytes of a sent resource → [name, content]. */
export function decodeFixture(value: Uint8Array): [string, string] {
  const s = Buffer.from(value).toString();
  const i = s.indexOf('|');
  return [s.slice(0, i), s.slice(i + 1)];
}
