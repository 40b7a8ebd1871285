import type { Logger } from 'pino';
import type { SnapshotCache } from './snapshot-cache.js';
import { TYPE_ORDER, type TypeUrl } from '../../xds/resource.js';
import type { ResponseEncoder } from './response-encoding.js';
import type { StreamRecord } from './node-registry.js';
import type { AdsMetrics } from './xds-metrics.js';

// What the SotW and delta stream state machines share.

/** What a stream needs from the server: the cache, its registry record, metrics, a logger, the shared encoder. */
export interface StreamDeps {
  readonly cache: SnapshotCache;
  readonly encoder: ResponseEncoder;
  readonly record: StreamRecord;
  readonly metrics: AdsMetrics;
  readonly logger: Logger;
}

/** A request that breaks the protocol; the server ends the stream with INVALID_ARGUMENT. */
export class AdsProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AdsProtocolError';
  }
}

const KNOWN_TYPES: ReadonlySet<string> = new Set(TYPE_ORDER);

/**
 * The request's type URL if this server serves it. An empty one is a protocol error: on ADS
 * the type URL is what multiplexes the sub-streams (xds_protocol.rst, "Aggregated Discovery
 * Service"). Other types (SDS, RTDS, ...) are not served; undefined tells the caller to ignore
 * the request, which leaves the client on its initial-fetch timeout as for any absent resource.
 */
export function servedType(typeUrl: string, logger: Logger): TypeUrl | undefined {
  if (typeUrl === '') throw new AdsProtocolError('type_url is required on an ADS stream');
  if (KNOWN_TYPES.has(typeUrl)) return typeUrl as TypeUrl;
  logger.debug({ typeUrl }, 'ads: request for a type this server does not serve; ignored');
  return undefined;
}
