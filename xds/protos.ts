// The Envoy v3 API as a protobufjs Root, loaded from the .proto files that ship inside
// @grpc/grpc-js-xds (deps/envoy-api, deps/xds, deps/googleapis, deps/protoc-gen-validate), so the
// control plane encodes exactly the schema its gRPC clients decode with. Nothing is copied here.

import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import path from 'node:path';
import protobuf from 'protobufjs';

/** Files loaded into the root; their imports are followed. */
export const ENVOY_PROTO_FILES: readonly string[] = [
  'envoy/config/cluster/v3/cluster.proto',
  'envoy/config/endpoint/v3/endpoint.proto',
  'envoy/config/listener/v3/listener.proto',
  'envoy/config/route/v3/route.proto',
  'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
  'envoy/extensions/filters/http/router/v3/router.proto',
  'envoy/extensions/transport_sockets/tls/v3/tls.proto',
  // Cluster.load_balancing_policy entries (xds/balancing-policy.ts).
  'envoy/extensions/load_balancing_policies/least_request/v3/least_request.proto',
  'envoy/extensions/load_balancing_policies/round_robin/v3/round_robin.proto',
  'google/protobuf/struct.proto',
  // The auth filter's config (xds/auth-filter.ts), as Envoy carries filters it has no proto for.
  'xds/type/v3/typed_struct.proto',
  'google/rpc/status.proto',
];

/** A plain (proto3-JSON-like, snake_case) object as produced by `decodeResource`. */
export type PlainMessage = { [field: string]: unknown };

// keepCase: field names stay snake_case, as in the .proto files, Envoy docs and grpc-js-xds.
export const PARSE_OPTIONS: protobuf.IParseOptions = { keepCase: true };

// enums/longs as strings, bytes base64: proto3 JSON mapping (protobuf.dev "JSON Mapping").
// json: true makes protobufjs expand google.protobuf.Any into the {'@type': url, ...fields} form.
const TO_OBJECT: protobuf.IConversionOptions = { enums: String, longs: String, bytes: String, json: true };

let cached: { root: protobuf.Root; loadMs: number } | undefined;

function includeDirs(): string[] {
  const require = createRequire(import.meta.url);
  const xdsDir = path.dirname(require.resolve('@grpc/grpc-js-xds/package.json'));
  // descriptor.proto is not among protobufjs's bundled "common" files (it only bundles any,
  // duration, ... as JSON); the validate/udpa annotations extend its option messages, so take the
  // copy protobufjs ships as a last include dir.
  const protobufDir = path.dirname(require.resolve('protobufjs/package.json'));
  return [
    ...['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) => path.join(xdsDir, 'deps', d)),
    protobufDir,
  ];
}

/** An empty Root whose imports resolve across the grpc-js-xds proto dirs (e.g. for test protos). */
export function newProtoRoot(): protobuf.Root {
  const dirs = includeDirs();
  const root = new protobuf.Root();
  root.resolvePath = (_origin: string, target: string): string | null => {
    if (path.isAbsolute(target)) return target;
    // protobufjs bundles some google/protobuf files (any, duration, struct, ...) and loads those by
    // their bare name; it only consults the bundle for imports, so do the same for top-level files.
    if (protobuf.common.get(target)) return target;
    for (const dir of dirs) {
      const candidate = path.join(dir, target);
      if (existsSync(candidate)) return candidate;
    }
    return null;
  };
  return root;
}

function load(): { root: protobuf.Root; loadMs: number } {
  const started = performance.now();
  const root = newProtoRoot();
  root.loadSync([...ENVOY_PROTO_FILES], PARSE_OPTIONS);
  root.resolveAll();
  return { root, loadMs: performance.now() - started };
}

/** The shared Root, loaded on first use (about 100-200 ms) and cached for the process. */
export function envoyRoot(): protobuf.Root {
  cached ??= load();
  return cached.root;
}

/** Milliseconds the one-time load took (loads if not loaded yet). */
export function envoyRootLoadMs(): number {
  envoyRoot();
  return cached?.loadMs ?? 0;
}

/** Message name from a type URL (`type.googleapis.com/envoy.config.cluster.v3.Cluster`) or a bare name. */
export function typeNameOf(typeUrlOrName: string): string {
  const name = typeUrlOrName.slice(typeUrlOrName.lastIndexOf('/') + 1);
  return name.startsWith('.') ? name.slice(1) : name;
}

/** The message type named by a full name or type URL; throws if the root does not hold it. */
export function lookupType(typeUrlOrName: string): protobuf.Type {
  const name = typeNameOf(typeUrlOrName);
  const found = envoyRoot().lookup(name);
  if (!(found instanceof protobuf.Type)) throw new Error(`unknown protobuf message type "${name}"`);
  return found;
}

/**
 * Encodes a plain object as `typeName`. Nested google.protobuf.Any may be given as
 * `{'@type': 'type.googleapis.com/<message>', ...fields}`. Throws on an unknown `@type`:
 * protobufjs would otherwise silently encode an empty Any.
 */
export function encodeResource(typeUrlOrName: string, object: PlainMessage): Uint8Array {
  const type = lookupType(typeUrlOrName);
  checkAnyTypes(object, '');
  const bytes = type.encode(type.fromObject(object)).finish();
  // finish() may return a slice of a shared pool buffer; hand out bytes that own their memory.
  return new Uint8Array(bytes);
}

/** Decodes `bytes` as the message named by `typeUrl` into a plain object (see TO_OBJECT). */
export function decodeResource(typeUrlOrName: string, bytes: Uint8Array): PlainMessage {
  const type = lookupType(typeUrlOrName);
  // Not protobufjs's reader for Node Buffers: it cuts a string that runs past the end short instead
  // of failing, so a truncated resource would decode as a different, shorter one. The base Reader
  // checks every length against the bytes there are.
  const reader = new protobuf.Reader(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  return type.toObject(type.decode(reader), TO_OBJECT) as PlainMessage;
}

function checkAnyTypes(value: unknown, at: string): void {
  if (Array.isArray(value)) {
    value.forEach((v, i) => checkAnyTypes(v, `${at}[${i}]`));
    return;
  }
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value)) return;
  const obj = value as Record<string, unknown>;
  const anyType = obj['@type'];
  if (typeof anyType === 'string' && !(envoyRoot().lookup(typeNameOf(anyType)) instanceof protobuf.Type)) {
    throw new Error(`${at || '<root>'}: @type "${anyType}" is not a message type known to the Envoy proto root`);
  }
  for (const [k, v] of Object.entries(obj)) checkAnyTypes(v, at ? `${at}.${k}` : k);
}
