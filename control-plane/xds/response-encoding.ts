// Encodes ADS responses straight to protobuf bytes, each resource once, shared by every stream.
// grpc-js would serialize every DiscoveryResponse per call through protobufjs (fromObject, then encode),
// copying every resource into a new message for each of 1,000 gateways. A resource is already encoded
// (XdsResource.value); its Any (SotW) or Resource entry (delta) is encoded on first use and kept with the
// resource object (a WeakMap: dropped with the snapshots that hold it, so nothing outlives them). A
// response is then a few small fields around those shared bytes, and per stream costs only their copy.
// Wire format: https://protobuf.dev/programming-guides/encoding/ (fields may come in any order, §"Field
// Order"; all fields here are length-delimited, wire type 2).

import type { Counter } from 'prom-client';
import { typeLabel, type XdsResource } from '../../xds/resource.js';

const LENGTH_DELIMITED = 2;

function varint(n: number): Buffer {
  const bytes: number[] = [];
  while (n > 0x7f) {
    bytes.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  bytes.push(n);
  return Buffer.from(bytes);
}

/** Key and length of a length-delimited field, to be followed by `length` bytes. */
function fieldHead(field: number, length: number): Buffer {
  return Buffer.concat([varint((field << 3) | LENGTH_DELIMITED), varint(length)]);
}

function bytesField(field: number, payload: Buffer | Uint8Array): Buffer {
  return Buffer.concat([fieldHead(field, payload.byteLength), payload]);
}

/** proto3 leaves empty strings out. */
function stringField(field: number, value: string): Buffer {
  return value === '' ? Buffer.alloc(0) : bytesField(field, Buffer.from(value, 'utf8'));
}

/** google.protobuf.Any: type_url = 1, value = 2. */
function encodeAny(r: XdsResource): Buffer {
  return Buffer.concat([stringField(1, r.typeUrl), bytesField(2, r.value)]);
}

// Field numbers of envoy/service/discovery/v3/discovery.proto.
const SOTW = { versionInfo: 1, resources: 2, typeUrl: 4, nonce: 5 } as const;
const DELTA = { systemVersionInfo: 1, resources: 2, typeUrl: 4, nonce: 5, removedResources: 6 } as const;
const RESOURCE = { version: 1, resource: 2, name: 3 } as const;

export interface DeltaEntry {
  readonly resource: XdsResource;
  readonly version: string;
}

/** A SotW response encoded once for every stream that gets the same resources at the same version. */
export interface SharedResponse {
  readonly bytes: Buffer;
  readonly nonce: string;
}

/** How many distinct shared responses are kept (a push is one per type and subscription). */
const SHARED_KEPT = 32;

export class ResponseEncoder {
  /**
   * Whole SotW responses by type, version and resource names, newest last. Streams in lockstep (5,000
   * gateways answered for one snapshot) get the same Buffer, nonce included: a nonce only has to pair a
   * response with its ACK within one stream (xds_protocol.rst, "ACK/NACK and resource type instance
   * version"), and a process-wide sequence never repeats within a stream.
   */
  private readonly shared = new Map<string, SharedResponse>();
  private sharedSeq = 0;

  /** DiscoveryResponse.resources entries (key, length, Any), per resource object. */
  private readonly sotwEntries = new WeakMap<XdsResource, Buffer>();
  /** DeltaDiscoveryResponse.resources entries, per resource object, with the version they carry. */
  private readonly deltaEntries = new WeakMap<XdsResource, { readonly version: string; readonly bytes: Buffer }>();

  /** `encodings` counts resources encoded, by type: once per resource object and protocol. */
  constructor(private readonly encodings: Counter<'type'>) {}

  sotw(response: { version: string; typeUrl: string; nonce: string; resources: readonly XdsResource[] }): Buffer {
    const parts = [stringField(SOTW.versionInfo, response.version)];
    for (const r of response.resources) parts.push(this.sotwEntry(r));
    parts.push(stringField(SOTW.typeUrl, response.typeUrl), stringField(SOTW.nonce, response.nonce));
    return Buffer.concat(parts);
  }

  /** The response for these resources at this version, encoded once and shared (see `shared`). */
  sotwShared(response: { version: string; typeUrl: string; resources: readonly XdsResource[] }): SharedResponse {
    let key = `${response.typeUrl}\u0000${response.version}`;
    for (const r of response.resources) key += `\u0000${r.name}`;
    let hit = this.shared.get(key);
    if (hit === undefined) {
      const nonce = `s${++this.sharedSeq}`;
      hit = { nonce, bytes: this.sotw({ ...response, nonce }) };
      this.shared.set(key, hit);
      if (this.shared.size > SHARED_KEPT) this.shared.delete(this.shared.keys().next().value!);
    }
    return hit;
  }

  delta(response: { systemVersion: string; typeUrl: string; nonce: string; resources: readonly DeltaEntry[]; removed: readonly string[] }): Buffer {
    const parts = [stringField(DELTA.systemVersionInfo, response.systemVersion)];
    for (const e of response.resources) parts.push(this.deltaEntry(e));
    parts.push(stringField(DELTA.typeUrl, response.typeUrl));
    for (const name of response.removed) parts.push(bytesField(DELTA.removedResources, Buffer.from(name, 'utf8')));
    parts.push(stringField(DELTA.nonce, response.nonce));
    return Buffer.concat(parts);
  }

  private sotwEntry(r: XdsResource): Buffer {
    let bytes = this.sotwEntries.get(r);
    if (bytes === undefined) {
      bytes = bytesField(SOTW.resources, encodeAny(r));
      this.sotwEntries.set(r, bytes);
      this.encodings.inc({ type: typeLabel(r.typeUrl) });
    }
    return bytes;
  }

  private deltaEntry({ resource, version }: DeltaEntry): Buffer {
    const cached = this.deltaEntries.get(resource);
    if (cached !== undefined && cached.version === version) return cached.bytes;
    const entry = Buffer.concat([
      stringField(RESOURCE.version, version),
      bytesField(RESOURCE.resource, encodeAny(resource)),
      stringField(RESOURCE.name, resource.name),
    ]);
    const bytes = bytesField(DELTA.resources, entry);
    this.deltaEntries.set(resource, { version, bytes });
    this.encodings.inc({ type: typeLabel(resource.typeUrl) });
    return bytes;
  }
}
