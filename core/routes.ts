import type { Scope } from './auth.js';
import type { BackendName } from './model.js';

// The gateway's routing table: one data table, shown in README.md.
// Exact matches win over prefixes; among prefixes the longest wins; anything else goes to `default`.

export interface RouteRule {
  readonly match: 'exact' | 'prefix';
  readonly path: string;
  readonly backend: BackendName;
  /** Scopes a token needs on this route (auth type token); absent: `admin` for every method. */
  readonly scopes?: RouteScopes;
}

/**
 * The scope a request needs: `read` for GET, HEAD and OPTIONS, `write` for anything else. A family
 * like the rules API reads with GET and writes with POST/DELETE; a push is a write whatever the
 * method, and a PromQL query over POST is still a read.
 */
export interface RouteScopes {
  readonly read: Scope;
  readonly write: Scope;
}

export interface RoutePrefixes {
  /** Mimir's -http.prometheus-http-prefix. */
  readonly prometheus: string;
  /** Mimir's -http.alertmanager-http-prefix. */
  readonly alertmanager: string;
}

export const DEFAULT_PREFIXES: RoutePrefixes = { prometheus: '/prometheus', alertmanager: '/alertmanager' };

// Route families and their scopes (GEM's access policies). Everything not named here (status pages,
// the admin API, block upload, the catch-all) needs `admin`.
const PUSH: RouteScopes = { read: 'metrics:write', write: 'metrics:write' };
const QUERY: RouteScopes = { read: 'metrics:read', write: 'metrics:read' };
const METRICS: RouteScopes = { read: 'metrics:read', write: 'metrics:write' };
const RULES: RouteScopes = { read: 'rules:read', write: 'rules:write' };
const ALERTS: RouteScopes = { read: 'alerts:read', write: 'alerts:write' };
export const ADMIN_SCOPES: RouteScopes = { read: 'admin', write: 'admin' };

const exact = (path: string, backend: BackendName, scopes: RouteScopes = ADMIN_SCOPES): RouteRule => ({ match: 'exact', path, backend, scopes });
const prefix = (path: string, backend: BackendName, scopes: RouteScopes = ADMIN_SCOPES): RouteRule => ({ match: 'prefix', path, backend, scopes });

/** The scope a request with `method` needs on a route: GET, HEAD, OPTIONS (RFC 9110 9.2.1 safe methods) read. */
export function needsScope(scopes: RouteScopes | undefined, method: string | undefined): Scope {
  const s = scopes ?? ADMIN_SCOPES;
  return method === 'GET' || method === 'HEAD' || method === 'OPTIONS' ? s.read : s.write;
}

export function routeTable(p: RoutePrefixes = DEFAULT_PREFIXES): RouteRule[] {
  const prom = p.prometheus;
  return [
    exact('/api/v1/push', 'distributor', PUSH),
    prefix('/distributor/', 'distributor'),
    prefix('/otlp/v1/metrics', 'distributor', PUSH),
    prefix('/api/v1/push/influx/write', 'distributor', PUSH),

    prefix(p.alertmanager, 'alertmanager', ALERTS),
    prefix('/multitenant_alertmanager/', 'alertmanager'),
    exact('/api/v1/alerts', 'alertmanager', ALERTS),

    prefix(`${prom}/config/v1/rules`, 'ruler', RULES),
    prefix(`${prom}/api/v1/rules`, 'ruler', RULES),
    prefix(`${prom}/api/v1/alerts`, 'ruler', RULES),
    prefix('/ruler/', 'ruler'),

    prefix(prom, 'query_frontend', QUERY),
    exact('/api/v1/status/buildinfo', 'query_frontend', QUERY),

    prefix('/api/v1/upload/block/', 'compactor'),
    prefix('/compactor/', 'compactor'),

    prefix('/ingester/', 'ingester'),
    prefix('/store-gateway/', 'store_gateway'),
    prefix('/admin/api/', 'admin_api'),
    prefix('/graphite/', 'graphite', METRICS),

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
