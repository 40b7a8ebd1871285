import type { AnyMessage } from '../../xds/ads-service.js';
import { decodeResource, type PlainMessage } from '../../xds/protos.js';
import { shortType, type TypeUrl } from '../../xds/resource.js';
import { validateResource } from '../../xds/validate.js';

// First half of handling a DiscoveryResponse: decode every Any and run Envoy's PGV checks, as
// Envoy does before it applies anything. Pure: the caller decides between ACK and NACK.

export interface CheckedResource {
  readonly name: string;
  /** The Any's value, as received: compared byte for byte to skip unchanged re-sends. */
  readonly bytes: Buffer;
  readonly decoded: PlainMessage;
}

export type CheckedResponse =
  | { readonly ok: true; readonly resources: ReadonlyMap<string, CheckedResource> }
  | { readonly ok: false; readonly problems: readonly string[] };

/** The name a resource is keyed by (ClusterLoadAssignment has `cluster_name`, the others `name`). */
function nameOf(decoded: PlainMessage): string {
  const n = decoded['name'] ?? decoded['cluster_name'];
  return typeof n === 'string' ? n : '';
}

/**
 * Decodes and validates `anys`, the resources of one response of `typeUrl`. Resources whose name
 * `wanted` refuses are left out unvalidated: a client ignores resources it did not subscribe to
 * (xds_protocol.rst, "How the client specifies what resources to return").
 */
export function checkResponse(
  typeUrl: TypeUrl,
  anys: readonly AnyMessage[],
  wanted: (name: string) => boolean,
): CheckedResponse {
  const problems: string[] = [];
  const resources = new Map<string, CheckedResource>();
  const seen = new Set<string>();
  const kind = shortType(typeUrl);
  anys.forEach((any, i) => {
    // Every resource of a response has the response's type (discovery.proto DiscoveryResponse.resources).
    if (any.type_url !== typeUrl) {
      problems.push(`${kind} resources[${i}]: type_url "${any.type_url}" does not match the response type_url`);
      return;
    }
    const bytes = Buffer.from(any.value.buffer, any.value.byteOffset, any.value.byteLength);
    let decoded: PlainMessage;
    try {
      decoded = decodeResource(typeUrl, bytes);
    } catch (err) {
      problems.push(`${kind} resources[${i}]: cannot decode: ${(err as Error).message}`);
      return;
    }
    const name = nameOf(decoded);
    // A response naming a resource twice is rejected whole (xds_protocol.rst, "Duplicate Resource Names").
    if (seen.has(name)) {
      problems.push(`${kind} ${JSON.stringify(name)}: duplicate resource name in one response`);
      return;
    }
    seen.add(name);
    if (!wanted(name)) return;
    const invalid = validateResource(typeUrl, decoded);
    if (name === '' && invalid.length === 0) {
      // Listener and RouteConfiguration names carry no PGV rule, but an unnamed one cannot be kept.
      invalid.push(`${kind} resources[${i}]: name: value is required to identify the resource`);
    }
    if (invalid.length > 0) problems.push(...invalid);
    else resources.set(name, { name, bytes, decoded });
  });
  return problems.length > 0 ? { ok: false, problems } : { ok: true, resources };
}

/** error_detail.message for a NACK: the first problems, with a count of the rest. */
export function nackMessage(problems: readonly string[], limit = 10): string {
  const shown = problems.slice(0, limit).join('; ');
  return problems.length > limit ? `${shown}; (and ${problems.length - limit} more)` : shown;
}
