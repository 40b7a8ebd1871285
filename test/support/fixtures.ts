// Builders for control-plane facts (backends, endpoints, translate input) so tests state only
// what they care about.

import {
  BACKEND_NAMES, dnsTargetKey, type Backend, type BackendName, type BackendTarget, type DnsTarget, type Endpoint,
  type TlsSettings,
} from '../../core/model.js';
import { routeTable, type RouteRule } from '../../core/routes.js';
import { parseBackendUrl } from '../../core/backend-url.js';
import type { ListenerSpec, TranslateInput } from '../../control-plane/translate.js';

export const NO_TLS: TlsSettings = {
  enabled: false, caPath: '', certPath: '', keyPath: '', serverName: '', insecureSkipVerify: false,
};

/** A backend URL → target, through the config's own parser. */
export function parseTarget(url: string): BackendTarget {
  const r = parseBackendUrl(url);
  if ('problem' in r) throw new Error(`fixture: ${r.problem}`);
  return r.target;
}

export interface BackendOptions {
  readonly tls?: Partial<TlsSettings>;
  readonly timeoutMs?: number;
  readonly enableKeepalive?: boolean;
}

export function backend(name: BackendName, url: string, opts: BackendOptions = {}): Backend {
  return {
    name,
    url,
    target: parseTarget(url),
    enableKeepalive: opts.enableKeepalive ?? true,
    tls: { ...NO_TLS, ...opts.tls },
    timeoutMs: opts.timeoutMs ?? 30_000,
  };
}

/**
 * Backends as the config layer produces them: each name takes its own url, else `default`'s
 * (keeping its own options); a name with neither is absent.
 */
export function backendsFrom(
  urls: Partial<Record<BackendName, string>>,
  opts: Partial<Record<BackendName, BackendOptions>> = {},
): Backend[] {
  const out: Backend[] = [];
  for (const name of BACKEND_NAMES) {
    const url = urls[name] ?? urls.default;
    if (url !== undefined) out.push(backend(name, url, opts[name] ?? opts.default ?? {}));
  }
  return out;
}

/** "10.0.0.1:9095", "[::1]:9095" → endpoints. */
export function endpoints(...addresses: string[]): Endpoint[] {
  return addresses.map((a) => {
    const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(a);
    if (!m) throw new Error(`fixture: "${a}" is not host:port`);
    return { address: m[1] ?? '', port: Number(m[2]) };
  });
}

/** The endpoints map keyed as the DNS watcher keys it. */
export function endpointMap(entries: ReadonlyArray<readonly [string, readonly Endpoint[]]>): Map<string, readonly Endpoint[]> {
  return new Map(entries.map(([url, eps]) => [dnsTargetKey(parseTarget(url) as DnsTarget), eps]));
}

export const GATEWAY_LISTENER: ListenerSpec = { name: 'metrics-gateway', address: '127.0.0.1', port: 8080 };

export const DISTRIBUTOR_URL = 'dns:///distributor.mimir.svc:9095';
export const DISTRIBUTOR_ENDPOINTS = endpoints('10.0.0.3:9095', '10.0.0.1:9095', '10.0.0.2:9095');

/**
 * A realistic cluster: distributor over httpgrpc to 3 replicas, query-frontend over plain http, the
 * admin API over https with a private CA and client cert, store-gateway pinned to an IP literal,
 * everything else falling back to `default`.
 */
export function realisticInput(overrides: Partial<TranslateInput> = {}): TranslateInput {
  return {
    backends: backendsFrom(
      {
        distributor: DISTRIBUTOR_URL,
        query_frontend: 'http://query-frontend.mimir.svc:8080',
        admin_api: 'https://gem-admin.example.com:8443',
        store_gateway: 'http://10.1.2.3:8080/store',
        default: 'http://mimir.mimir.svc:8080',
      },
      {
        distributor: { timeoutMs: 10_000 },
        admin_api: {
          tls: { caPath: '/etc/gateway/ca.pem', certPath: '/etc/gateway/client.pem', keyPath: '/etc/gateway/client.key' },
        },
      },
    ),
    routes: routeTable(),
    endpoints: endpointMap([[DISTRIBUTOR_URL, DISTRIBUTOR_ENDPOINTS]]),
    listener: GATEWAY_LISTENER,
    ...overrides,
  };
}

/** No `default`: only the distributor and ruler are configured, every other route is unset. */
export function partialInput(): TranslateInput {
  return {
    backends: backendsFrom({ distributor: DISTRIBUTOR_URL, ruler: 'http://ruler.mimir.svc:8080' }),
    routes: routeTable(),
    endpoints: endpointMap([[DISTRIBUTOR_URL, DISTRIBUTOR_ENDPOINTS]]),
    listener: GATEWAY_LISTENER,
  };
}

/** Our routing rule, independent of Envoy: exact match, else the longest matching prefix. */
export function referenceRoute(routes: readonly RouteRule[], path: string): RouteRule | undefined {
  const exact = routes.find((r) => r.match === 'exact' && r.path === path);
  if (exact) return exact;
  let best: RouteRule | undefined;
  for (const r of routes) {
    if (r.match === 'prefix' && path.startsWith(r.path) && (!best || r.path.length > best.path.length)) best = r;
  }
  return best;
}
