import { createRequire } from 'node:module';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

// The envoy.service.discovery.v3.AggregatedDiscoveryService definition, loaded at runtime from
// the protos @grpc/grpc-js-xds ships, and the message shapes proto-loader gives us with
// keepCase/longs String/enums String/defaults/oneofs. Only the fields the ADS server uses are typed.

export interface AnyMessage {
  readonly type_url: string;
  readonly value: Buffer | Uint8Array;
}

export interface StatusMessage {
  readonly code: number;
  readonly message: string;
}

/** google.protobuf.Value as decoded with `oneofs: true`: `kind` names the set field. */
export interface StructValueMessage {
  readonly kind?: 'nullValue' | 'numberValue' | 'stringValue' | 'boolValue' | 'structValue' | 'listValue';
  readonly numberValue?: number;
  readonly stringValue?: string;
  readonly boolValue?: boolean;
  readonly structValue?: StructMessage | null;
  readonly listValue?: { readonly values: readonly StructValueMessage[] } | null;
}

export interface StructMessage {
  readonly fields: Readonly<Record<string, StructValueMessage>>;
}

export interface NodeMessage {
  readonly id: string;
  readonly cluster: string;
  readonly metadata: StructMessage | null;
  readonly user_agent_name: string;
  readonly user_agent_version?: string;
  readonly user_agent_build_version?: { readonly version: { readonly major_number: number; readonly minor_number: number; readonly patch: number } | null } | null;
  readonly user_agent_version_type?: 'user_agent_version' | 'user_agent_build_version';
  readonly locality?: { readonly region: string; readonly zone: string; readonly sub_zone: string } | null;
}

export interface DiscoveryRequestMessage {
  readonly version_info: string;
  readonly node: NodeMessage | null;
  readonly resource_names: readonly string[];
  readonly type_url: string;
  readonly response_nonce: string;
  readonly error_detail: StatusMessage | null;
}

export interface DiscoveryResponseMessage {
  readonly version_info: string;
  readonly resources: readonly AnyMessage[];
  readonly type_url: string;
  readonly nonce: string;
}

export interface DeltaDiscoveryRequestMessage {
  readonly node: NodeMessage | null;
  readonly type_url: string;
  readonly resource_names_subscribe: readonly string[];
  readonly resource_names_unsubscribe: readonly string[];
  readonly initial_resource_versions: Readonly<Record<string, string>>;
  readonly response_nonce: string;
  readonly error_detail: StatusMessage | null;
}

export interface DeltaResourceMessage {
  readonly name: string;
  readonly version: string;
  readonly resource: AnyMessage | null;
}

export interface DeltaDiscoveryResponseMessage {
  readonly system_version_info: string;
  readonly resources: readonly DeltaResourceMessage[];
  readonly type_url: string;
  readonly removed_resources: readonly string[];
  readonly nonce: string;
}

export const ADS_SERVICE_NAME = 'envoy.service.discovery.v3.AggregatedDiscoveryService';

export interface AdsServiceDefinition {
  readonly service: grpc.ServiceDefinition;
  /** Client class for the same service (tests and tools). */
  readonly Client: grpc.ServiceClientConstructor;
}

let loaded: AdsServiceDefinition | undefined;

/** Loads (once) the ADS service from @grpc/grpc-js-xds's bundled envoy/xds/googleapis/PGV protos. */
export function loadAdsService(): AdsServiceDefinition {
  loaded ??= loadEnvoyService('envoy/service/discovery/v3/ads.proto', ADS_SERVICE_NAME);
  return loaded;
}

/**
 * Any Envoy gRPC service (LRS, CSDS, ...) from the same protos with the same decoding options
 * (keepCase, longs as strings, enums as strings, defaults, oneofs), so every service's messages
 * have the shapes typed in this folder.
 */
export function loadEnvoyService(protoFile: string, serviceName: string): AdsServiceDefinition {
  const require = createRequire(import.meta.url);
  const depsDir = path.join(path.dirname(require.resolve('@grpc/grpc-js-xds/package.json')), 'deps');
  const definition = protoLoader.loadSync(protoFile, {
    includeDirs: ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) => path.join(depsDir, d)),
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const Client = lookup(grpc.loadPackageDefinition(definition), serviceName);
  return { service: Client.service, Client };
}

function lookup(root: grpc.GrpcObject, dotted: string): grpc.ServiceClientConstructor {
  let node: unknown = root;
  for (const part of dotted.split('.')) node = (node as Record<string, unknown> | undefined)?.[part];
  if (typeof node !== 'function' || !('service' in node)) throw new Error(`ads-service: ${dotted} not found in the loaded protos`);
  return node as grpc.ServiceClientConstructor;
}
