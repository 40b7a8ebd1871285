import type { BackendName } from './model.js';

// The gateway's routing table: one data table, shown in README.md.
// Exact matches win over prefixes; among prefixes the longest wins; anything else goes to `default`.

export interface RouteRule {
  readonly match: 'exact' | 'prefix';
  readonly path: string;
  readonly backend: BackendName;
}

export interface RoutePrefixes {
  /** Mimir's -http.prometheus-http-prefix. */
  readonly prometheus: string;
  /** Mimir's -http.alertmanager-http-prefix. */
  readonly alertmanager: string;
}

export const DEFAULT_PREFIXES: RoutePrefixes = { prometheus: '/prometheus', alertmanager: '/alertmanager' };

const exact = (path: string, backend: BackendName): RouteRule => ({ match: 'exact', path, backend });
const prefix = (path: string, backend: BackendName): RouteRule => ({ match: 'prefix', path, backend });

export function routeTable(p: RoutePrefixes = DEFAULT_PREFIXES): RouteRule[] {
  const prom = p.prometheus;
  return [
    exact('/api/v1/push', 'distributor'),
    prefix('/distributor/', 'distributor'),
    prefix('/otlp/v1/metrics', 'distributor'),
    prefix('/api/v1/push/influx/write', 'distributor'),

    prefix(p.alertmanager, 'alertmanager'),
    prefix('/multitenant_alertmanager/', 'alertmanager'),
    exact('/api/v1/alerts', 'alertmanager'),

    prefix(`${prom}/config/v1/rules`, 'ruler'),
    prefix(`${prom}/api/v1/rules`, 'ruler'),
    prefix(`${prom}/api/v1/alerts`, 'ruler'),
    prefix('/ruler/', 'ruler'),

    prefix(prom, 'query_frontend'),
    exact('/api/v1/status/buildinfo', 'query_frontend'),

    prefix('/api/v1/upload/block/', 'compactor'),
    prefix('/compactor/', 'compactor'),

    prefix('/ingester/', 'ingester'),
    prefix('/store-gateway/', 'store_gateway'),
    prefix('/admin/api/', 'admin_api'),
    prefix('/graphite/', 'graphite'),

    prefix('/', 'default'),
  ];
}

/** Paths the gateway answers itself; never proxied. */
export const OWN_EXACT_PATHS = ['/ready', '/metrics', '/config'] as const;
export const OWN_PREFIX = '/gateway/';
/** The in-process control plane's API (embedded or -target=all), on the gateway's port; never proxied either. */
export const CONTROL_PLANE_PREFIX = '/control-plane/';

/** Body of the 503 for a route whose backend has no url and no default: names the fields to set. */
export function unsetBackendMessage(name: BackendName): string {
  const flag = name.replaceAll('_', '-');
  if (name === 'default') return 'no backend configured for "default": set gateway.proxy.default.url (-gateway.proxy.default.url)';
  return (
    `no backend configured for "${name}": set gateway.proxy.${name}.url (-gateway.proxy.${flag}.url) ` +
    `or gateway.proxy.default.url (-gateway.proxy.default.url)`
  );
}
