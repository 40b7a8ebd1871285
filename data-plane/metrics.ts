// Data-plane metrics. Label children are cached so the request path does no label hashing.

import { collectDefaultMetrics, Counter, Gauge, Histogram, type Registry } from 'prom-client';

export class GatewayMetrics {
  readonly duration: Histogram<'backend' | 'route' | 'method' | 'status_code'>;
  readonly inflight: Gauge<'backend'>;
  readonly upstreamErrors: Counter<'backend' | 'reason'>;
  private readonly durationChildren = new Map<string, { observe(v: number): void }>();
  private readonly inflightChildren = new Map<string, { inc(): void; dec(): void }>();

  constructor(readonly registry: Registry, opts: { defaultMetrics?: boolean } = {}) {
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
    this.duration = new Histogram({
      name: 'metrics_gateway_request_duration_seconds',
      help: 'Time from request received to response finished, by backend, route, method and status code.',
      labelNames: ['backend', 'route', 'method', 'status_code'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers: [registry],
    });
    this.inflight = new Gauge({
      name: 'metrics_gateway_inflight_requests',
      help: 'Requests being proxied now, by backend.',
      labelNames: ['backend'],
      registers: [registry],
    });
    this.upstreamErrors = new Counter({
      name: 'metrics_gateway_upstream_errors_total',
      help: 'Requests that failed at the backend, by backend and reason (refused, timeout, failed, unavailable, too_large).',
      labelNames: ['backend', 'reason'],
      registers: [registry],
    });
  }

  observe(backend: string, route: string, method: string, status: number, seconds: number): void {
    const key = `${backend}\0${route}\0${method}\0${status}`;
    let child = this.durationChildren.get(key);
    if (!child) {
      child = this.duration.labels(backend, route, method, String(status));
      this.durationChildren.set(key, child);
    }
    child.observe(seconds);
  }

  inflightFor(backend: string): { inc(): void; dec(): void } {
    let child = this.inflightChildren.get(backend);
    if (!child) {
      child = this.inflight.labels(backend);
      this.inflightChildren.set(backend, child);
    }
    return child;
  }
}
