// The module table: which services run for each -target, in dependency order (Mimir's modules.go).

import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import { configYaml } from './config-dump.js';
import { num, rootSchema, str, sub, type LoadedConfig, type Target } from './config.js';
import { Service, ServiceManager } from './services.js';
import { routeTable } from '../control-plane/routes.js';
import { registerAdminRoutes } from '../data-plane/admin-routes.js';
import { effectiveBackends } from '../data-plane/gateway-config.js';
import { GatewayServer } from '../data-plane/gateway-server.js';
import { GatewayMetrics } from '../data-plane/metrics.js';
import { buildState } from '../data-plane/state-builder.js';
import { createUpstreamFactory } from './upstreams.js';
import { DnsWatcher } from '../control-plane/dns/dns-watcher.js';
import { HttpGrpcMetrics } from '../data-plane/httpgrpc/index.js';

export interface Modules {
  start(): Promise<void>;
  stop(): Promise<void>;
  addresses(): Record<string, string>;
  readonly registry: Registry;
  readonly gateway: GatewayServer | undefined;
}

export function buildModules(cfg: LoadedConfig, logger: Logger): Modules {
  const target = str(cfg.tree, 'target') as Target;
  const registry = new Registry();
  const services: Service[] = [];
  const addresses: Record<string, string> = {};
  let gateway: GatewayServer | undefined;

  if (target === 'gateway' || target === 'all') {
    const metrics = new GatewayMetrics(registry);
    const dns = new DnsWatcher({ lookupPeriodMs: num(cfg.tree, 'control_plane.dns.lookup_period'), logger, registry });
    const upstreams = createUpstreamFactory({
      maxMessageBytes: num(cfg.tree, 'gateway.grpc_max_message_bytes'),
      logger,
      httpgrpcMetrics: new HttpGrpcMetrics(registry),
      endpoints: dns,
    });
    services.push(new Service('dns-watcher', { stopping: async () => dns.close() }));
    gateway = new GatewayServer(
      {
        listenAddress: str(cfg.tree, 'server.http_listen_address'),
        listenPort: num(cfg.tree, 'server.http_listen_port'),
        maxBodyBytes: num(cfg.tree, 'server.http_max_request_body_bytes'),
        idleTimeoutMs: num(cfg.tree, 'server.http_idle_timeout'),
        gracefulShutdownMs: num(cfg.tree, 'server.graceful_shutdown_timeout'),
      },
      { logger, metrics, notReadyReason: () => 'the gateway has not loaded its configuration yet' },
    );
    const gw = gateway;
    const manager = (): ServiceManager => managerRef;
    registerAdminRoutes(gw.app, {
      registry,
      notReady: () => (!manager().isReady() ? 'starting' : !gw.listening ? 'shutting down' : gw.current ? undefined : 'no configuration'),
      configYaml: () => configYaml(rootSchema, cfg.tree),
      state: () => gw.current,
    });
    services.push(
      new Service('gateway', {
        starting: async () => {
          const backends = effectiveBackends(sub(cfg.tree, 'gateway'));
          const routes = routeTable({
            prometheus: str(cfg.tree, 'api.prometheus_http_prefix'),
            alertmanager: str(cfg.tree, 'api.alertmanager_http_prefix'),
          });
          const version = createHash('sha256').update(JSON.stringify({ backends, routes })).digest('hex').slice(0, 16);
          gw.apply(buildState(version, backends, routes, undefined, upstreams));
          const addr = await gw.listen();
          addresses['http'] = `${addr.address}:${addr.port}`;
        },
        stopping: () => gw.close(),
      }),
    );
  }
  if (target === 'control-plane') {
    throw new Error('-target=control-plane is not available yet');
  }

  const managerRef = new ServiceManager(services);
  return {
    registry,
    gateway,
    start: () => managerRef.startAll(),
    stop: () => managerRef.stopAll(),
    addresses: () => addresses,
  };
}
