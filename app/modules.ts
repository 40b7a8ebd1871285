// The module table: which services run for each -target, in dependency order (Mimir's modules.go).
//   control-plane: xDS server + config/DNS watchers + /control-plane/ API
//   gateway:       the HTTP gateway, fed by xDS; with only -config.file it embeds a control plane
//                  on loopback and talks to it exactly as a remote gateway would
//   all:           both, with the control plane also serving other gateways

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import Fastify from 'fastify';
import type { Logger } from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { configYaml } from './config-dump.js';
import { num, rootSchema, str, type LoadedConfig, type Target } from './config.js';
import { ControlPlaneModule } from './control-plane-module.js';
import { configuredXdsServers, GatewayModule, type ConfigFeed } from './gateway-module.js';
import type { RawAccepted } from '../data-plane/xds/accepted-state.js';
import { Service, ServiceManager } from './services.js';
import { checkInProcessTls, xdsClientTls, xdsServerTls } from './xds-tls.js';
import { httpServerTls } from './http-tls.js';
import type { ResourceTransform } from '../control-plane/snapshot-builder.js';
import { registerAdminRoutes } from '../data-plane/admin-routes.js';

export interface Modules {
  start(): Promise<void>;
  stop(): Promise<void>;
  addresses(): Record<string, string>;
  /** What start-up validates, without starting anything (-config.check): lines saying what would run. Throws GatewayError. */
  check(): string[];
  readonly registry: Registry;
  readonly gateway: GatewayModule | undefined;
  readonly controlPlane: ControlPlaneModule | undefined;
}

export interface ModuleOptions {
  /** Test hook: alter the control plane's translated resources before validation. */
  readonly transform?: ResourceTransform;
  /** -server.workers > 1: what this process is (see app/workers.ts). Absent: one process does all. */
  readonly role?: WorkerRole | PrimaryRole;
  /** The registry to use (a worker's role reads it); a new one by default. */
  readonly registry?: Registry;
}

/** A worker: serves HTTP from the config the primary hands it; no control plane, no xDS client. */
export interface WorkerRole {
  readonly kind: 'worker';
  readonly feed: ConfigFeed;
  readonly onApplied: (version: string) => void;
  /** Why the gateway as a whole is not ready (another worker has no config yet), or undefined. */
  readonly fleetNotReady: () => string | undefined;
  /** The whole gateway's /metrics, aggregated by the primary. */
  readonly metrics: () => Promise<string>;
  /** The primary's xDS client status (/gateway/api/v1/config). */
  readonly xdsStatus: () => Promise<unknown>;
}

/** The primary: control plane (if any) and the one xDS client, relaying resources to the workers. */
export interface PrimaryRole {
  readonly kind: 'primary';
  readonly relay: (raw: RawAccepted) => void;
}

export function buildModules(cfg: LoadedConfig, logger: Logger, opts: ModuleOptions = {}): Modules {
  const target = str(cfg.tree, 'target') as Target;
  const registry = opts.registry ?? new Registry();
  const services: Service[] = [];
  const addresses: Record<string, string> = {};
  const xdsServers = configuredXdsServers(cfg);
  const embedded = target === 'gateway' && xdsServers.length === 0;
  const role = opts.role;
  const runsControlPlane = role?.kind !== 'worker' && (target === 'control-plane' || target === 'all' || embedded);
  const runsGateway = target === 'gateway' || target === 'all';
  // Certificates are read here, before anything starts: a bad file fails start-up and -config.check alike.
  const serverTls = runsControlPlane ? xdsServerTls(cfg.tree, logger) : undefined;
  const clientTls = runsGateway ? xdsClientTls(cfg.tree, logger) : undefined;
  if (serverTls && clientTls && xdsServers.length === 0) checkInProcessTls(serverTls, clientTls);
  // The HTTP port: the gateway's front door, or the control plane's API and dashboard.
  const httpTls = httpServerTls(cfg.tree, logger, runsGateway ? 'gateway HTTP' : 'control plane HTTP');

  let cp: ControlPlaneModule | undefined;
  if (serverTls) {
    const host = str(cfg.tree, 'server.grpc_listen_address');
    cp = new ControlPlaneModule({
      cfg,
      logger,
      registry,
      grpcAddress: embedded ? '127.0.0.1:0' : `${host === '' ? '0.0.0.0' : host.includes(':') ? `[${host}]` : host}:${num(cfg.tree, 'server.grpc_listen_port')}`,
      lookupPeriodMs: num(cfg.tree, 'control_plane.dns.lookup_period'),
      loadReportingIntervalMs: num(cfg.tree, 'control_plane.load_reporting_interval'),
      listenerPort: num(cfg.tree, 'control_plane.listener_port'),
      tls: serverTls,
      httpTls,
      transform: opts.transform,
      countGatewayZones: target === 'control-plane',
    });
    services.push(...cp.services());
  }
  const controlPlane = cp;

  let gateway: GatewayModule | undefined;
  const manager = (): ServiceManager => managerRef;
  if (clientTls) {
    const gw = new GatewayModule({
      cfg,
      tls: clientTls,
      httpTls,
      logger,
      registry,
      servers: () => (xdsServers.length > 0 ? xdsServers : controlPlane ? [controlPlane.address] : []),
      waitForFirstConfig: controlPlane !== undefined && role === undefined,
      ...(role?.kind === 'worker' ? { feed: role.feed, onApplied: role.onApplied } : {}),
      ...(role?.kind === 'primary' ? { relay: role.relay } : {}),
    });
    gateway = gw;
    const server = gw.server;
    registerAdminRoutes(server.app, {
      registry,
      ...(role?.kind === 'worker' ? { metrics: role.metrics } : {}),
      notReady: () =>
        !manager().isReady()
          ? 'starting'
          : !server.listening
            ? 'shutting down'
            : !server.current
              ? gw.notReadyReason()
              : role?.kind === 'worker'
                ? role.fleetNotReady()
                : undefined,
      configYaml: () => configYaml(rootSchema, cfg.tree),
      state: () => server.current,
      xds: () => (role?.kind === 'worker' ? role.xdsStatus() : gw.xdsStatus()),
    });
    controlPlane?.registerApi(server.app);
    services.push(gw.service());
    if (role?.kind !== 'primary') services.push(new Service('http-address', { starting: async () => void (addresses['http'] = server.address()) }));
  } else if (controlPlane) {
    // -target=control-plane: its own small HTTP server for the API, /ready and /metrics, behind the
    // same TLS layer as the gateway's when -server.http-tls-* is set. The process and Node heap metrics
    // too (nodejs_heap_size_used_bytes, nodejs_external_memory_bytes, GC): the gateway's registry has
    // them, and a control plane holding thousands of streams needs them more.
    if (!registry.getSingleMetric('nodejs_heap_size_used_bytes')) collectDefaultMetrics({ register: registry });
    const server = http.createServer();
    const listener = httpTls.termination ? httpTls.termination.serve(server) : server;
    if (listener !== server) listener.on('listening', () => server.emit('listening'));
    const app = Fastify({ logger: false, serverFactory: (handler) => server.on('request', handler) });
    app.get('/ready', async (_req, reply) =>
      manager().isReady() ? reply.type('text/plain').send('ready\n') : reply.code(503).type('text/plain').send('not ready: starting\n'),
    );
    app.get('/metrics', async (_req, reply) => reply.type(registry.contentType).send(await registry.metrics()));
    app.get('/config', async (_req, reply) => reply.type('text/yaml; charset=utf-8').send(configYaml(rootSchema, cfg.tree)));
    controlPlane.registerApi(app);
    services.push(
      new Service('http-server', {
        starting: async () => {
          const host = str(cfg.tree, 'server.http_listen_address');
          await app.ready();
          listener.listen(num(cfg.tree, 'server.http_listen_port'), host === '' ? '::' : host);
          await once(listener, 'listening');
          const a = listener.address() as AddressInfo;
          addresses['http'] = `${httpTls.termination ? 'https' : 'http'}://${a.address.includes(':') ? `[${a.address}]` : a.address}:${a.port}`;
          httpTls.source?.start();
        },
        stopping: async () => {
          httpTls.source?.stop();
          const closed = once(listener, 'close');
          listener.close();
          if (listener !== server) server.close();
          server.closeAllConnections();
          await closed;
          await app.close();
        },
      }),
    );
  }
  if (controlPlane) services.push(new Service('xds-address', { starting: async () => void (addresses['grpc'] = controlPlane.address) }));

  const managerRef = new ServiceManager(services);
  return {
    registry,
    gateway,
    controlPlane,
    start: () => managerRef.startAll(),
    stop: () => managerRef.stopAll(),
    addresses: () => addresses,
    check: () => {
      const http = `${str(cfg.tree, 'server.http_listen_address') || '(all interfaces)'}:${num(cfg.tree, 'server.http_listen_port')}`;
      return [
        `target: ${target}${embedded ? ' (with an in-process control plane on -config.file)' : ''}`,
        `HTTP on ${http}: ${gateway ? 'the gateway, ' : ''}/ready, /metrics, /config${controlPlane ? ', /control-plane/api/v1/' : ''}; ${httpTls.description}`,
        ...(controlPlane?.check() ?? []),
        ...(gateway?.check() ?? []),
      ];
    },
  };
}
