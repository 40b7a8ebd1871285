import { Counter, Gauge, type Registry } from 'prom-client';
import { EJECTION_REASONS } from './outlier-detector.js';

/** Why a call to an endpoint did not produce an HTTP response from the backend. */
export type HttpGrpcErrorReason =
  | 'not_sent' // never reached the backend (no connection, refused stream); retried elsewhere
  | 'timeout'
  | 'too_large'
  | 'failed' // any other gRPC error, including a dropped connection mid-call
  | 'cancelled'; // the HTTP client went away first

const ERROR_REASONS: readonly HttpGrpcErrorReason[] = ['not_sent', 'timeout', 'too_large', 'failed', 'cancelled'];

/**
 * The httpgrpc proxy's metrics, created once per Registry and shared by every HttpGrpcUpstream
 * (prom-client refuses a second metric of the same name on one registry).
 */
export class HttpGrpcMetrics {
  /** Calls started on an endpoint (each retry counts). */
  readonly requests: Counter<'backend' | 'endpoint'>;
  readonly errors: Counter<'backend' | 'endpoint' | 'reason'>;
  readonly inFlight: Gauge<'backend' | 'endpoint'>;
  /** Requests answered by the gateway because no endpoint could be used (endpoint label ""). */
  readonly noEndpoint: Counter<'backend'>;
  /** Outlier detection (balancer.ts): ejections by reason, and whether an endpoint is ejected now. */
  readonly ejections: Counter<'backend' | 'endpoint' | 'reason'>;
  readonly ejected: Gauge<'backend' | 'endpoint'>;
  /** Zone-aware balancing (issue 20): bytes by the gateway's zone and the endpoint's zone. */
  readonly zoneBytes: Counter<'backend' | 'from_zone' | 'to_zone' | 'direction' | 'cross_zone'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.requests = new Counter({
      name: 'metrics_gateway_httpgrpc_requests_total',
      help: 'httpgrpc calls started per backend endpoint, retries included.',
      labelNames: ['backend', 'endpoint'],
      registers,
    });
    this.errors = new Counter({
      name: 'metrics_gateway_httpgrpc_errors_total',
      help: 'httpgrpc calls that ended without an HTTP response from the backend, by reason.',
      labelNames: ['backend', 'endpoint', 'reason'],
      registers,
    });
    this.inFlight = new Gauge({
      name: 'metrics_gateway_httpgrpc_in_flight_requests',
      help: 'httpgrpc calls in flight per backend endpoint.',
      labelNames: ['backend', 'endpoint'],
      registers,
    });
    this.noEndpoint = new Counter({
      name: 'metrics_gateway_httpgrpc_no_endpoint_total',
      help: 'Requests answered 503 because the backend had no READY endpoint in time.',
      labelNames: ['backend'],
      registers,
    });
    this.ejections = new Counter({
      name: 'metrics_gateway_httpgrpc_outlier_ejections_total',
      help: 'Endpoints ejected by outlier detection, by reason (consecutive_5xx, consecutive_gateway_failure, success_rate, failure_percentage).',
      labelNames: ['backend', 'endpoint', 'reason'],
      registers,
    });
    this.ejected = new Gauge({
      name: 'metrics_gateway_httpgrpc_outlier_ejected',
      help: '1 while outlier detection keeps new requests away from the endpoint, else 0.',
      labelNames: ['backend', 'endpoint'],
      registers,
    });
    // cross_zone repeats from_zone != to_zone because PromQL cannot compare two labels of a series.
    this.zoneBytes = new Counter({
      name: 'metrics_gateway_httpgrpc_zone_bytes_total',
      help: 'httpgrpc bytes by the gateway zone (from_zone) and the endpoint zone (to_zone); direction sent (request frames) or received (response messages); cross_zone "true" when they differ. Zoned backends or zoned gateways only; "" for an unknown zone.',
      labelNames: ['backend', 'from_zone', 'to_zone', 'direction', 'cross_zone'],
      registers,
    });
  }

  /** Bytes of one call between this gateway's zone and the endpoint's. */
  zoneCall(backend: string, fromZone: string, toZone: string, sent: number, received: number): void {
    const cross_zone = fromZone !== toZone && fromZone !== '' && toZone !== '' ? 'true' : 'false';
    this.zoneBytes.inc({ backend, from_zone: fromZone, to_zone: toZone, direction: 'sent', cross_zone }, sent);
    if (received > 0) this.zoneBytes.inc({ backend, from_zone: fromZone, to_zone: toZone, direction: 'received', cross_zone }, received);
  }

  /**
   * Series at 0 for an endpoint that joins: an endpoint that gets no requests shows as a rate of 0
   * (what the "endpoint gets no traffic" alert looks for), not as a missing series.
   */
  initEndpoint(backend: string, endpoint: string): void {
    this.requests.inc({ backend, endpoint }, 0);
    this.inFlight.inc({ backend, endpoint }, 0);
    for (const reason of ERROR_REASONS) this.errors.inc({ backend, endpoint, reason }, 0);
    for (const reason of EJECTION_REASONS) this.ejections.inc({ backend, endpoint, reason }, 0);
    this.ejected.set({ backend, endpoint }, 0);
  }

  /** Drop an endpoint's series once it is gone, so churning pods do not grow the registry forever. */
  forgetEndpoint(backend: string, endpoint: string): void {
    this.requests.remove({ backend, endpoint });
    this.inFlight.remove({ backend, endpoint });
    for (const reason of ERROR_REASONS) this.errors.remove({ backend, endpoint, reason });
    for (const reason of EJECTION_REASONS) this.ejections.remove({ backend, endpoint, reason });
    this.ejected.remove({ backend, endpoint });
  }
}
