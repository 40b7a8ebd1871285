// The gateway half of the binary: the HTTP front door, fed only by xDS. Whether the control plane is
// in this process (embedded, -target=all) or remote (-gateway.xds.server-address), the gateway gets
// its routes, backends and endpoints the same way: an ADS stream, validated, then applied atomically.

import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { num, str, type LoadedConfig } from './config.js';
import type { HttpGrpcClientKind } from '../data-plane/httpgrpc/index.js';
import { GATEWAY_LISTENER } from './control-plane-module.js';
import { Service } from './services.js';
import { createUpstreamFactory } from './upstreams.js';
import { GatewayServer } from '../data-plane/gateway-server.js';
import { HttpGrpcMetrics } from '../data-plane/httpgrpc/index.js';
import { GatewayMetrics } from '../data-plane/metrics.js';
import { AuthRuntime } from '../data-plane/auth/authenticator.js';
import { AuthMetrics } from '../data-plane/auth/auth-metrics.js';
import { buildGatewayState, checkResources } from '../data-plane/xds-apply.js';
import { XdsClient } from '../data-plane/xds/ads-client.js';
import { packageVersion } from '../core/package-version.js';
import { LrsClient } from '../data-plane/xds/lrs-client.js';
import { LoadRecorder } from '../data-plane/load/load-recorder.js';
import { GatewayError } from '../core/errors.js';
import { probeXdsConnection } from './xds-connect-probe.js';
import type { XdsClientTls } from './xds-tls.js';
import type { HttpServerTls } from './http-tls.js';
import type { AcceptedResources, RawAccepted } from '../data-plane/xds/accepted-state.js';

/** -gateway.xds.server-address as a list; empty: the in-process control plane. */
export function configuredXdsServers(cfg: LoadedConfig): string[] {
  return str(cfg.tree, 'gateway.xds.server_address').split(',').map((s) => s.trim()).filter((s) => s !== '');
}

export interface GatewayModuleOptions {
  readonly cfg: LoadedConfig;
  readonly logger: Logger;
  readonly registry: Registry;
  /** Credentials for every stream on the xDS channel (ADS now; load reporting shares them). */
  readonly tls: XdsClientTls;
  /** HTTPS on the front door (-server.http-tls-*); plain HTTP when its termination is undefined. */
  readonly httpTls?: HttpServerTls;
  /** xDS servers; a function because an embedded control plane's port is known only once it listens. */
  readonly servers: () => readonly string[];
  /** Embedded: start() waits (bounded) for the first config, so the process is ready when it returns. */
  readonly waitForFirstConfig: boolean;
  /**
   * Workers (-server.workers > 1): in a worker, the config comes from the primary instead of an xDS
   * client of its own (`feed`); in the primary, accepted resources go to the workers (`relay`) and
   * no HTTP server is started.
   */
  readonly feed?: ConfigFeed;
  readonly relay?: (raw: RawAccepted) => void;
  /** Called after each config this process applied (workers report it to the primary). */
  readonly onApplied?: (version: string) => void;
}

/** Where a worker's config comes from: the primary's xDS client. */
export interface ConfigFeed {
  start(onUpdate: (accepted: AcceptedResources) => void): void;
  stop(): void;
}

export class GatewayModule {
  readonly server: GatewayServer;
  private readonly auth: AuthRuntime;
  private client: XdsClient | undefined;
  private lrs: LrsClient | undefined;
  /** Per-backend, per-endpoint load, reported to the control plane over LRS. */
  readonly load = new LoadRecorder();
  private waiting = 'the first configuration';
  private firstApplied!: () => void;
  private readonly applied = new Promise<void>((r) => (this.firstApplied = r));

  constructor(private readonly opts: GatewayModuleOptions) {
    const { cfg, logger, registry } = opts;
    this.auth = new AuthRuntime(new AuthMetrics(registry), logger.child({ component: 'auth' }));
    this.server = new GatewayServer(
      {
        listenAddress: str(cfg.tree, 'server.http_listen_address'),
        listenPort: num(cfg.tree, 'server.http_listen_port'),
        maxBodyBytes: num(cfg.tree, 'server.http_max_request_body_bytes'),
        idleTimeoutMs: num(cfg.tree, 'server.http_idle_timeout'),
        headerTimeoutMs: num(cfg.tree, 'server.http_read_header_timeout'),
        gracefulShutdownMs: num(cfg.tree, 'server.graceful_shutdown_timeout'),
        ...(opts.httpTls?.termination ? { tls: opts.httpTls.termination } : {}),
      },
      {
        logger,
        metrics: new GatewayMetrics(registry),
        notReadyReason: () => this.notReadyReason(),
      },
    );
  }

  /** Why requests get 503 and /ready says no: what is awaited, from where, and why it does not come. */
  notReadyReason(): string {
    const why = this.client?.status().lastError?.why;
    const servers = this.opts.servers().join(', ') || '(none)';
    return `the gateway waits for ${this.waiting} from the control plane at ${servers} (-gateway.xds.server-address)${why ? `; cannot connect: ${why}` : ''}`;
  }

  /** What start-up checks of the gateway's own settings (-config.check); throws GatewayError. */
  check(): string[] {
    const servers = configuredXdsServers(this.opts.cfg);
    for (const s of servers) {
      const m = /^(\[[0-9a-fA-F:.]+\]|[^:\s[\]]+):(\d+)$/.exec(s);
      if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) {
        throw new GatewayError('CONFIG_BAD_VALUE', `-gateway.xds.server-address: ${JSON.stringify(s)} is not host:port (IPv6 as [::1]:9095)`);
      }
    }
    const { cfg } = this.opts;
    return [
      `gateway: HTTP front door: ${this.opts.httpTls?.description ?? 'plain HTTP'}`,
      `gateway: xDS from ${servers.length > 0 ? servers.join(', ') : 'the in-process control plane'} as node "${str(cfg.tree, 'gateway.xds.node_id')}" of cluster "${str(cfg.tree, 'gateway.xds.cluster')}", ${this.opts.tls.description}`,
    ];
  }

  /** What the xDS client has ACKed, as bytes (the primary hands this to a new worker). */
  rawAccepted(): RawAccepted | undefined {
    return this.client?.rawAccepted();
  }

  xdsStatus(): ReturnType<XdsClient['status']> | undefined {
    return this.client?.status();
  }

  service(): Service {
    const { cfg, logger, registry } = this.opts;
    const factory = createUpstreamFactory({
      maxMessageBytes: num(cfg.tree, 'gateway.grpc_max_message_bytes'),
      client: str(cfg.tree, 'gateway.httpgrpc_client') as HttpGrpcClientKind,
      logger,
      httpgrpcMetrics: new HttpGrpcMetrics(registry),
      load: this.load,
      localZone: str(cfg.tree, 'gateway.xds.locality_zone'),
    });
    // Set on a gateway of a fleet, -auth.type=token means "never serve unauthenticated"; the tokens and
    // the filter come from the control plane (an embedded one reads the same flag).
    const requireAuth = str(cfg.tree, 'auth.type') === 'token';
    return new Service('gateway', {
      starting: async () => {
        this.check();
        if (!this.opts.relay) this.opts.httpTls?.source?.start();
        const apply = (accepted: AcceptedResources): void => {
          const r = buildGatewayState(accepted, GATEWAY_LISTENER, this.server.current, factory, { runtime: this.auth, required: requireAuth });
          if ('refused' in r) {
            this.waiting = r.refused;
            logger.error({ version: r.version }, `xds: not applying config: ${r.refused}`);
            return;
          }
          if ('waiting' in r) {
            this.waiting = r.waiting;
            logger.debug({ waiting: r.waiting }, 'xds: config incomplete, keeping the current one');
            return;
          }
          for (const c of r.keptEndpoints) logger.warn({ cluster: c }, 'xds: empty endpoint set received; keeping the current endpoints');
          if (r.state.version === this.server.current?.version) return;
          this.server.apply(r.state);
          logger.info({ version: r.state.version }, 'gateway config applied');
          this.opts.onApplied?.(r.state.version);
          this.firstApplied();
        };
        if (this.opts.feed) {
          this.opts.feed.start(apply);
          await this.server.listen();
          return;
        }
        this.opts.tls.source?.start();
        const relay = this.opts.relay;
        this.client = new XdsClient({
          credentials: this.opts.tls.credentials,
          channelOptions: this.opts.tls.channelOptions,
          explainConnectFailure: (server) => {
            const { source, serverName, caPath } = this.opts.tls;
            return probeXdsConnection(server, { tls: source ? { material: source.current, serverName, caPath } : undefined });
          },
          servers: this.opts.servers(),
          node: { id: str(cfg.tree, 'gateway.xds.node_id'), cluster: str(cfg.tree, 'gateway.xds.cluster'), locality: { region: str(cfg.tree, 'gateway.xds.locality_region'), zone: str(cfg.tree, 'gateway.xds.locality_zone') } },
          userAgentVersion: packageVersion(),
          listenerName: GATEWAY_LISTENER,
          logger: logger.child({ component: 'xds-client' }),
          registry,
          check: checkResources,
          // Load reports ride the ADS channel: same server, same (m)TLS credentials.
          onChannel: (channel, server) => (channel ? this.lrs?.attach(channel, server) : this.lrs?.detach()),
          onUpdate: relay ? () => relay(this.client!.rawAccepted()) : apply,
        });
        this.lrs = new LrsClient({ node: this.client.nodeMessage, recorder: this.load, logger: logger.child({ component: 'lrs-client' }) });
        this.client.start();
        if (relay) return;
        await this.server.listen();
        if (this.opts.waitForFirstConfig) {
          await Promise.race([this.applied, new Promise((r) => setTimeout(r, 10_000).unref())]);
        }
      },
      stopping: async () => {
        if (!this.opts.relay) await this.server.close();
        // After the drain: a worker's last load report holds the requests that finished during it.
        this.opts.feed?.stop();
        await this.client?.stop();
        this.auth.close();
        this.lrs?.detach();
        this.opts.tls.source?.stop();
        this.opts.httpTls?.source?.stop();
      },
    });
  }
}
