// The gateway's own endpoints. Never proxied.

import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { GatewayState } from './gateway-state.js';

export interface AdminDeps {
  readonly registry: Registry;
  /** undefined when ready, otherwise why not. */
  notReady(): string | undefined;
  configYaml(): string;
  state(): GatewayState | undefined;
}

export function registerAdminRoutes(app: FastifyInstance, deps: AdminDeps): void {
  app.get('/ready', async (_req, reply) => {
    const why = deps.notReady();
    if (why !== undefined) return reply.code(503).type('text/plain').send(`not ready: ${why}\n`);
    return reply.type('text/plain').send('ready\n');
  });

  app.get('/metrics', async (_req, reply) => {
    const body = await deps.registry.metrics();
    return reply.type(deps.registry.contentType).send(body);
  });

  app.get('/config', async (_req, reply) => reply.type('text/yaml; charset=utf-8').send(deps.configYaml()));

  app.get('/gateway/api/v1/backends', async () => {
    const state = deps.state();
    if (!state) return { version: null, backends: [] };
    return {
      version: state.version,
      backends: [...state.upstreams.values()].map((u) => ({
        name: u.backend.name,
        url: u.backend.url,
        proxy: u.kind,
        timeout_ms: u.backend.timeoutMs,
      })),
    };
  });
}
