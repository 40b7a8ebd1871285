// The route table compiled once per applied config. xDS semantics: the first route that matches
// wins (route.proto VirtualHost.routes); the control plane orders exact paths first, then prefixes
// longest first. The leading run of exact routes is a Map lookup; the rest is a short scan.
// Routing uses the normalised path, so `..`, `%2e%2e` and `//` cannot reach another backend than
// the clean path would (nginx does the same before matching locations).

import type { RouteScopes } from '../core/routes.js';

export interface RouteAction {
  /** Label for metrics: the route's name ("exact:/api/v1/push"). */
  readonly label: string;
  /** Upstream to proxy to (the cluster name), or undefined with `direct` set. */
  readonly cluster: string | undefined;
  /** A fixed answer, e.g. 503 for a backend that has no url. */
  readonly direct: { readonly status: number; readonly body: string } | undefined;
  /** Scopes a token needs here (token mode); undefined: admin. */
  readonly scopes?: RouteScopes;
}

export interface RouteInput extends RouteAction {
  readonly match: 'exact' | 'prefix';
  readonly path: string;
}

export class Router {
  private readonly exact = new Map<string, RouteAction>();
  private readonly rest: ReadonlyArray<RouteInput>;

  constructor(readonly rules: readonly RouteInput[]) {
    let i = 0;
    for (; i < rules.length && rules[i]!.match === 'exact'; i++) {
      if (!this.exact.has(rules[i]!.path)) this.exact.set(rules[i]!.path, rules[i]!);
    }
    this.rest = rules.slice(i);
  }

  /** `path` must already be normalised (see routingPath). */
  match(path: string): RouteAction | undefined {
    const e = this.exact.get(path);
    if (e) return e;
    for (const r of this.rest) {
      if (r.match === 'exact' ? path === r.path : path.startsWith(r.path)) return r;
    }
    return undefined;
  }
}

/**
 * The origin-form (path and query) of a request target: RFC 9112 3.2.2, a server MUST accept the
 * absolute-form (`http://host/path`), and a request to an origin server MUST be in origin-form
 * (3.2.1), so it is routed and forwarded by its path, as a Go backend would read it. Undefined for
 * the asterisk-form (`OPTIONS *`) and anything else that names no path.
 */
export function originForm(target: string): string | undefined {
  if (target.charCodeAt(0) === 0x2f) return target;
  const authority = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*/.exec(target);
  if (!authority) return undefined;
  const rest = target.slice(authority[0].length);
  return rest.charCodeAt(0) === 0x2f ? rest : `/${rest}`;
}

/**
 * Path part of a request target, normalised for routing: percent-decoded, `.`/`..` resolved,
 * repeated slashes merged. Returns undefined for invalid percent-encoding. Fast path: most paths
 * need none of this.
 */
export function routingPath(url: string): string | undefined {
  const q = url.indexOf('?');
  const raw = q < 0 ? url : url.slice(0, q);
  if (!raw.includes('%') && !raw.includes('/.') && !raw.includes('//')) return raw;
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    return undefined;
  }
  const out: string[] = [];
  for (const seg of decoded.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') out.pop();
    else out.push(seg);
  }
  const trailing = decoded.endsWith('/') || decoded.endsWith('/.') || decoded.endsWith('/..');
  return '/' + out.join('/') + (trailing && out.length > 0 ? '/' : '');
}
