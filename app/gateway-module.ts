// The gateway half of the binary: the HTTP front door, fed only by xDS. Whether the control plane is
// in this process (embedded, -target=all) or remote (-gateway.xds.server-address), the gateway gets
// its routes, backends and endpoints the same way: an ADS stream, validated, then applied atomically.

import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { num, str, type LoadedConfig } from './config.js';
import { GATEWAY_LISTENER } from './control-plane-module.js';
import { Service } from './services.js';
import { createUpstreamFactory } from './upstreams.js';
import { GatewayServer } from '../data-plane/gateway-server.js';
import { HttpGrpcMetrics } from '../data-plane/httpgrpc/index.js';
import { GatewayMetrics } from '../data-plane/metrics.js';
import { buildGatewayState, checkResources } from '../data-plane/xds-apply.js';
import { XdsClient } from '../data-plane/xds/ads-client.js';

export interface GatewayModuleOptions {
  readonly cfg: LoadedConfig;
  readonly logger: Logger;
  readonly registry: Registry;
  /** xDS servers; a function because an embedded control plane's port is known only once it listens. */
  readonly servers: () => readonly string[];
  /** Embedded: start() waits (bounded) for the first config, so the process is ready when it returns. */
  readonly waitForFirstConfig: boolean;
}

export class GatewayModule {
  readonly server: GatewayServer;
  private client: XdsClient | undefined;
  private waiting = 'the first configuration';
  private firstApplied!: () => void;
  private readonly applied = new Promise<void>((r) => (this.firstApplied = r));

  constructor(private readonly opts: GatewayModuleOptions) {
    const { cfg, logger, registry } = opts;
    this.server = new GatewayServer(
      {
        listenAddress: str(cfg.tree, 'server.http_listen_address'),
        listenPort: num(cfg.tree, 'server.http_listen_port'),
        maxBodyBytes: num(cfg.tree, 'server.http_max_request_body_bytes'),
        idleTimeoutMs: num(cfg.tree, 'server.http_idle_timeout'),
        headerTimeoutMs: num(cfg.tree, 'server.http_read_header_timeout'),
        gracefulShutdownMs: num(cfg.tree, 'server.graceful_shutdown_timeout'),
      },
      {
        logger,
        metrics: new GatewayMetrics(registry),
        notReadyReason: () =>
          `the gateway waits for ${this.waiting} from the control plane at ${this.opts.servers().join(', ') || '(none)'} (-gateway.xds.server-address)`,
      },
    );
  }

  xdsStatus(): ReturnType<XdsClient['status']> | undefined {
    return this.client?.status();
  }

  service(): Service {
    const { cfg, logger, registry } = this.opts;
    const factory = createUpstreamFactory({
      maxMessageBytes: num(cfg.tree, 'gateway.grpc_max_message_bytes'),
      logger,
      httpgrpcMetrics: new HttpGrpcMetrics(registry),
    });
    return new Service('gateway', {
      starting: async () => {
        this.client = new XdsClient({
          servers: this.opts.servers(),
          node: { id: str(cfg.tree, 'gateway.xds.node_id'), cluster: str(cfg.tree, 'gateway.xds.cluster') },
          listenerName: GATEWAY_LISTENER,
          logger: logger.child({ component: 'xds-client' }),
          registry,
          check: checkResources,
          onUpdate: (accepted) => {
            const r = buildGatewayState(accepted, GATEWAY_LISTENER, this.server.current, factory);
            if ('waiting' in r) {
              this.waiting = r.waiting;
              logger.debug({ waiting: r.waiting }, 'xds: config incomplete, keeping the current one');
              return;
            }
            for (const c of r.keptEndpoints) logger.warn({ cluster: c }, 'xds: empty endpoint set received; keeping the current endpoints');
            if (r.state.version === this.server.current?.version) return;
            this.server.apply(r.state);
            logger.info({ version: r.state.version }, 'gateway config applied');
            this.firstApplied();
          },
        });
        this.client.start();
        await this.server.listen();
        if (this.opts.waitForFirstConfig) {
          await Promise.race([this.applied, new Promise((r) => setTimeout(r, 10_000).unref())]);
        }
      },
      stopping: async () => {
        await this.server.close();
        await this.client?.stop();
      },
    });
  }
}
