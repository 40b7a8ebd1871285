// The route table compiled once per config: exact paths in a Map, prefixes longest first.
// Routing uses the normalised path, so `..`, `%2e%2e` and `//` cannot reach another backend
// than the clean path would (nginx does the same before matching locations).

import type { BackendName } from '../control-plane/model.js';

export interface CompiledRoute {
  readonly backend: BackendName;
  /** Label for metrics: "=/api/v1/push" or "/prometheus". */
  readonly label: string;
}

export type RouteInput = { readonly match: 'exact' | 'prefix'; readonly path: string; readonly backend: BackendName };

export class Router {
  private readonly exact = new Map<string, CompiledRoute>();
  private readonly prefixes: Array<{ prefix: string; route: CompiledRoute }>;
  private readonly fallback: CompiledRoute | undefined;

  constructor(rules: readonly RouteInput[]) {
    const prefixes: Array<{ prefix: string; route: CompiledRoute }> = [];
    for (const r of rules) {
      if (r.match === 'exact') {
        if (!this.exact.has(r.path)) this.exact.set(r.path, { backend: r.backend, label: `=${r.path}` });
      } else {
        prefixes.push({ prefix: r.path, route: { backend: r.backend, label: r.path } });
      }
    }
    // Longest prefix first; a stable sort keeps table order among equal lengths.
    prefixes.sort((a, b) => b.prefix.length - a.prefix.length);
    this.prefixes = prefixes;
    this.fallback = prefixes.find((p) => p.prefix === '/' || p.prefix === '')?.route;
  }

  /** `path` must already be normalised (see normalisePath). */
  match(path: string): CompiledRoute | undefined {
    const e = this.exact.get(path);
    if (e) return e;
    for (const p of this.prefixes) if (path.startsWith(p.prefix)) return p.route;
    return this.fallback;
  }
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
