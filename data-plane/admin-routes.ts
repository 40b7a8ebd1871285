// The gateway's own endpoints. Never proxied.

import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { GatewayState } from './gateway-state.js';

export interface AdminDeps {
  readonly registry: Registry;
  /** The exposition /metrics serves when it is not this registry alone (workers: the whole gateway). */
  readonly metrics?: () => Promise<string>;
  /** undefined when ready, otherwise why not. */
  notReady(): string | undefined;
  configYaml(): string;
  state(): GatewayState | undefined;
  /** The xDS client's view: connection, versions ACKed and NACKed (a worker asks its primary). */
  xds(): unknown;
}

export function registerAdminRoutes(app: FastifyInstance, deps: AdminDeps): void {
  app.get('/ready', async (_req, reply) => {
    const why = deps.notReady();
    if (why !== undefined) return reply.code(503).type('text/plain').send(`not ready: ${why}\n`);
    return reply.type('text/plain').send('ready\n');
  });

  app.get('/metrics', async (_req, reply) => {
    const body = deps.metrics ? await deps.metrics() : await deps.registry.metrics();
    return reply.type(deps.registry.contentType).send(body);
  });

  app.get('/config', async (_req, reply) => reply.type('text/yaml; charset=utf-8').send(deps.configYaml()));

  // What this gateway applied: versions, routes, upstreams and their endpoints, and its xDS stream.
  app.get('/gateway/api/v1/config', async () => {
    const state = deps.state();
    return {
      applied: state
        ? {
            version: state.version,
            routes: state.router.rules.map((r) => ({
              name: r.label,
              match: r.match,
              path: r.path,
              ...(r.cluster !== undefined ? { cluster: r.cluster } : {}),
              ...(r.direct ? { direct_response: r.direct } : {}),
              ...(state.auth ? { scopes: r.scopes ?? { read: 'admin', write: 'admin' } } : {}),
            })),
            // Token ids only: hashes stay inside the gateway.
            auth: state.auth ? { type: 'token', realm: state.auth.cfg.realm, tokens: state.auth.tokenIds } : { type: 'trust' },
            upstreams: [...state.upstreams].map(([cluster, u]) => ({
              cluster,
              backend: u.backend.name,
              url: u.backend.url,
              proxy: u.kind,
              timeout_ms: u.backend.timeoutMs,
              ...(u.balancing ? { load_balancing: u.balancing.loadBalancing, outlier_detection: u.balancing.outlierDetection ?? null } : {}),
              ...(u.endpoints ? { endpoints: u.endpoints() } : {}),
            })),
          }
        : null,
      xds: (await deps.xds()) ?? null,
    };
  });
}
