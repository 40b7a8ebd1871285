// The control-plane half of the binary: config file + DNS → snapshots → ADS over gRPC, plus its
// HTTP API. Used by -target=control-plane and -target=all, and in-process by a gateway that is given
// only -config.file (it then talks to this over loopback gRPC exactly as a remote gateway would).

import type { HttpServerTls } from './http-tls.js';
import { peerTls } from './peer-tls.js';
import * as grpc from '@grpc/grpc-js';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { num, reloadConfig, str, sub, type LoadedConfig } from './config.js';
import type { TokenEntry } from '../core/auth.js';
import type { DnsTarget } from '../core/model.js';
import { readTokensFile } from '../control-plane/tokens-file.js';
import type { ValueTree } from '../core/config-schema.js';
import { Service } from './services.js';
import { ConfigWatcher, contentHash } from '../control-plane/config-watcher.js';
import { ControlPlane, type ConfigFacts } from '../control-plane/control-plane.js';
import { DnsWatcher } from '../control-plane/dns/dns-watcher.js';
import { registerControlPlaneApi } from '../control-plane/http-api.js';
import { registerRolloutApi } from '../control-plane/rollout/rollout-api.js';
import { routeTable } from '../core/routes.js';
import type { ResourceTransform } from '../control-plane/snapshot-builder.js';
import { AdsServer } from '../control-plane/xds/ads-server.js';
import { LoadStore } from '../control-plane/lrs/load-store.js';
import { LrsServer } from '../control-plane/lrs/lrs-server.js';
import { addCsds } from '../control-plane/csds/csds-server.js';
import { registerDashboard } from '../control-plane/dashboard/dashboard-api.js';
import { FleetHistory } from '../control-plane/dashboard/fleet-history.js';
import { SnapshotCache } from '../control-plane/xds/snapshot-cache.js';
import { FleetView } from '../control-plane/fleet/fleet-view.js';
import { parseBackendUrl } from '../core/backend-url.js';
import { effectiveBackends } from '../control-plane/proxy-config.js';
import { buildSnapshot, SnapshotBuildError } from '../control-plane/snapshot-builder.js';
import { GatewayError } from '../core/errors.js';
import { shortType, TYPE_ORDER } from '../xds/resource.js';
import type { XdsServerTls } from './xds-tls.js';
import { Rollouts } from '../control-plane/rollout/rollouts.js';

/** How long the control plane gathers stream changes before it recounts the gateways per zone. */
const ZONE_COUNT_DEBOUNCE_MS = 1000;

/** Name of the gateway's Listener and RouteConfiguration in every snapshot. */
export const GATEWAY_LISTENER = 'metrics-gateway';

export function configFacts(tree: ValueTree): ConfigFacts {
  const auth =
    str(tree, 'auth.type') === 'token'
      ? {
          realm: str(tree, 'auth.realm'),
          cacheTtlMs: num(tree, 'auth.cache_ttl'),
          failureLimit: num(tree, 'auth.failure_limit'),
          failureWindowMs: num(tree, 'auth.failure_window'),
        }
      : undefined;
  return {
    backends: effectiveBackends(sub(sub(tree, 'gateway'), 'proxy')),
    routes: routeTable({ prometheus: str(tree, 'api.prometheus_http_prefix'), alertmanager: str(tree, 'api.alertmanager_http_prefix') }),
    ...(auth ? { auth } : {}),
  };
}

/**
 * -auth.tokens-file, read as start-up does; throws GatewayError. '' without a file. In trust mode a
 * file that does not exist (an optional Secret not created yet) is no error: nothing is enforced
 * without tokens, and the file is watched, so it is loaded when it appears. With -auth.type=token a
 * missing file fails start-up (fail closed).
 */
function startupTokens(tree: ValueTree): { file: string; tokens: TokenEntry[]; absent: boolean } {
  const file = str(tree, 'auth.tokens_file');
  if (str(tree, 'auth.type') === 'token' && file === '') {
    throw new GatewayError('CONFIG_BAD_VALUE', 'auth.type is "token" but auth.tokens_file is empty: set -auth.tokens-file (mint entries with `metrics-gateway tokens mint`)');
  }
  if (file !== '' && str(tree, 'auth.type') === 'trust' && contentHash(file) === 'unreadable:ENOENT') return { file, tokens: [], absent: true };
  return { file, tokens: file === '' ? [] : readTokensFile(file), absent: false };
}

export interface ControlPlaneModuleOptions {
  readonly cfg: LoadedConfig;
  readonly logger: Logger;
  readonly registry: Registry;
  /** host:port the xDS gRPC server binds ("127.0.0.1:0" when embedded). */
  readonly grpcAddress: string;
  readonly lookupPeriodMs: number;
  readonly loadReportingIntervalMs: number;
  readonly listenerPort: number;
  readonly tls: XdsServerTls;
  readonly transform?: ResourceTransform;
  /** The HTTP port's TLS (-server.http-tls-*): peers are then asked over HTTPS. */
  readonly httpTls?: HttpServerTls;
  /**
   * Count the fleet's gateways per zone into the zoned CLAs. Only a shared control plane
   * (-target=control-plane) sees the fleet; one inside a gateway (embedded, -target=all) sees only
   * its own gateway, and its gateway then assumes an even spread instead.
   */
  readonly countGatewayZones?: boolean;
}

export class ControlPlaneModule {
  readonly cache: SnapshotCache;
  readonly ads: AdsServer;
  readonly dns: DnsWatcher;
  readonly controlPlane: ControlPlane;
  readonly load = new LoadStore();
  readonly history = new FleetHistory();
  readonly lrs: LrsServer;
  /** The fleet-wide view: this replica merged with its -control-plane.peers. */
  readonly fleet: FleetView;
  /** Config and tokens changes staged on a canary cohort (-control-plane.rollout.*). */
  readonly rollouts: Rollouts;
  private readonly grpcServer = new grpc.Server();
  private configWatcher: ConfigWatcher<ValueTree> | undefined;
  private tokensWatcher: ConfigWatcher<TokenEntry[]> | undefined;
  /** Ids of the token set in force (never hashes), for the status API. */
  private tokenIds: string[] = [];
  private zoneTimer: NodeJS.Timeout | undefined;
  /** Bound xDS address, known once started. */
  address = '';

  constructor(private readonly opts: ControlPlaneModuleOptions) {
    const logger = opts.logger.child({ component: 'control-plane' });
    this.cache = new SnapshotCache({ logger, metricsRegistry: opts.registry });
    this.ads = new AdsServer({ cache: this.cache, logger, metricsRegistry: opts.registry });
    this.ads.addTo(this.grpcServer);
    this.lrs = new LrsServer({ store: this.load, intervalMs: opts.loadReportingIntervalMs, logger });
    this.lrs.addTo(this.grpcServer);
    this.dns = new DnsWatcher({ lookupPeriodMs: opts.lookupPeriodMs, logger, registry: opts.registry });
    this.fleet = new FleetView({ nodes: this.ads.nodes, load: this.load, history: this.history, logger, peers: this.peers() });
    addCsds(this.grpcServer, () => this.fleet.nodes());
    const tree = opts.cfg.tree;
    this.rollouts = new Rollouts({
      canaryFraction: num(tree, 'control_plane.rollout.canary_fraction'),
      thresholds: {
        bakeMs: num(tree, 'control_plane.rollout.bake_time'),
        maxBakeMs: num(tree, 'control_plane.rollout.max_bake_time'),
        maxFailureRateIncrease: num(tree, 'control_plane.rollout.max_failure_rate_increase'),
        minRequests: num(tree, 'control_plane.rollout.min_requests'),
      },
      fleet: {
        nodes: () => this.fleet.nodes(),
        loadNodes: () => this.fleet.loadNodes(),
        peerAddresses: () => this.fleet.peerStatus().filter((p) => p.state === 'up').map((p) => p.address),
      },
      logger: logger.child({ component: 'rollout' }),
      registry: opts.registry,
      settleMs: opts.loadReportingIntervalMs,
    });
    if (opts.countGatewayZones) this.fleet.onChange(() => this.countZonesSoon());
    this.controlPlane = new ControlPlane({
      rollouts: this.rollouts,
      listener: this.listener(),
      cache: this.cache,
      endpoints: this.dns,
      logger,
      registry: opts.registry,
      transform: opts.transform,
      onPublished: (backends, answers) => {
        const versions = this.cache.status().versions;
        this.history.published(backends, answers, Object.fromEntries(Object.entries(versions).map(([t, v]) => [shortType(t), v])));
      },
    });
  }

  /**
   * The fleet's gateways per zone into the snapshot, at most once a second (ZONE_COUNT_DEBOUNCE_MS):
   * a rolling restart of many gateways gives a few CLA versions, not one per stream.
   */
  private countZonesSoon(): void {
    if (this.zoneTimer !== undefined) return;
    this.zoneTimer = setTimeout(() => {
      this.zoneTimer = undefined;
      this.controlPlane.setGatewayZones(this.fleet.gatewayZones());
    }, ZONE_COUNT_DEBOUNCE_MS);
    this.zoneTimer.unref();
  }

  /** -control-plane.peers, resolved by the same DNS watcher as the distributors. */
  private peers(): { target: DnsTarget; endpoints: DnsWatcher } | undefined {
    const name = str(this.opts.cfg.tree, 'control_plane.peers');
    const parsed = name === '' ? undefined : parseBackendUrl(name);
    if (!parsed || !('target' in parsed) || parsed.target.kind !== 'dns') return undefined;
    const source = this.opts.httpTls?.source;
    return { target: parsed.target, endpoints: this.dns, ...(source ? { tls: peerTls(source, parsed.target.host) } : {}) };
  }

  private listener(): { name: string; address: string; port: number } {
    return { name: GATEWAY_LISTENER, address: '0.0.0.0', port: this.opts.listenerPort };
  }

  /**
   * What start-up checks before it serves, also run alone by -config.check: the config translates
   * into a snapshot that passes validation and consistency (with no DNS answers yet, as a control
   * plane starting while DNS fails publishes it). Throws GatewayError; returns what would be served.
   */
  check(): string[] {
    const facts = configFacts(this.opts.cfg.tree);
    let counts: string;
    try {
      const { tokens } = startupTokens(this.opts.cfg.tree);
      const auth = facts.auth ? { ...facts.auth, tokens } : undefined;
      const snapshot = buildSnapshot({ backends: facts.backends, routes: facts.routes, auth, endpoints: new Map(), listener: this.listener() });
      counts = TYPE_ORDER.map((t) => `${snapshot.resources(t).size} ${shortType(t)}`).join(', ');
    } catch (err) {
      if (!(err instanceof SnapshotBuildError)) throw err;
      throw new GatewayError('CONFIG_SNAPSHOT', `${err.message}\n  ${err.problems.join('\n  ')}`);
    }
    const tokens = startupTokens(this.opts.cfg.tree);
    const authLine = facts.auth
      ? `  auth: token (basic auth, realm "${facts.auth.realm}"), ${tokens.tokens.length} tokens from ${tokens.file} (watched): ${tokens.tokens.map((t) => t.id).join(', ')}`
      : `  auth: trust (the client's X-Scope-OrgID is forwarded)${tokens.absent ? `; tokens file ${tokens.file} absent (optional in trust mode; watched, loaded when it appears)` : ''}`;
    const dnsNames = facts.backends.flatMap((b) => (b.target.kind === 'dns' ? [`${b.name} → ${b.url}`] : []));
    return [
      `control plane: xDS on ${this.opts.grpcAddress}, ${this.opts.tls.description}`,
      `  snapshot: ${counts}; listener port ${this.opts.listenerPort} (-control-plane.listener-port)`,
      authLine,
      ...facts.backends.map((b) => `  backend ${b.name} → ${b.url} (${b.target.kind === 'dns' ? 'httpgrpc' : 'http'}, timeout ${b.timeoutMs / 1000}s)`),
      ...(dnsNames.length > 0 ? [`  DNS names watched every ${this.opts.lookupPeriodMs / 1000}s: ${dnsNames.length}`] : []),
      ...(this.opts.cfg.file !== '' ? [`  config file watched for changes: ${this.opts.cfg.file}`] : []),
    ];
  }

  registerApi(app: FastifyInstance): void {
    registerControlPlaneApi(app, {
      fleet: this.fleet,
      cache: this.cache,
      build: () => this.controlPlane.status(),
      dns: () => this.dns.snapshot(),
      config: () => this.configWatcher?.status(),
      tokens: () => (this.tokensWatcher ? { ...this.tokensWatcher.status(), ids: this.tokenIds } : undefined),
      load: this.load,
    });
    registerRolloutApi(app, this.rollouts);
    registerDashboard(app, {
      fleet: this.fleet,
      cache: this.cache,
      load: this.load,
      history: this.history,
      build: () => this.controlPlane.status(),
      dns: () => this.dns.snapshot(),
      config: () => this.configWatcher?.status(),
      rollout: () => this.rollouts.status(),
    });
  }

  services(): Service[] {
    const { cfg, logger, registry } = this.opts;
    return [
      new Service('control-plane', {
        starting: async () => {
          this.check();
          const tokens = startupTokens(cfg.tree);
          if (tokens.absent) logger.info({ file: tokens.file }, 'auth: trust mode and the tokens file does not exist (optional Secret): no tokens; watching for it');
          this.tokenIds = tokens.tokens.map((t) => t.id);
          this.controlPlane.setTokens(tokens.tokens);
          this.controlPlane.setConfig(configFacts(cfg.tree));
          if (tokens.file !== '') {
            // The same watcher as the config file: fs events backed by polling, debounced; a bad file
            // is logged and counted and the last good token set stays published.
            this.tokensWatcher = new ConfigWatcher<TokenEntry[]>({
              file: tokens.file,
              kind: 'tokens',
              load: () => readTokensFile(tokens.file),
              onConfig: (next) => {
                this.tokenIds = next.map((t) => t.id);
                this.controlPlane.setTokens(next);
              },
              logger: logger.child({ component: 'tokens-watcher' }),
              registry,
            });
            this.tokensWatcher.start(contentHash(tokens.file));
          }
          if (cfg.file !== '') {
            this.configWatcher = new ConfigWatcher<ValueTree>({
              file: cfg.file,
              load: () => reloadConfig(cfg),
              onConfig: (tree) => this.controlPlane.setConfig(configFacts(tree)),
              logger: logger.child({ component: 'config-watcher' }),
              registry,
            });
            this.configWatcher.start(contentHash(cfg.file));
          }
          // Serve only once the first snapshot (with DNS answers, bounded wait) is in the cache.
          await this.controlPlane.published();
          this.fleet.start();
          const cp = this.controlPlane;
          this.rollouts.start({ promote: (id) => cp.promote(id), rollback: (id) => cp.rollback(id), canariesChanged: () => cp.republish() });
        },
        stopping: async () => {
          this.configWatcher?.stop();
          this.tokensWatcher?.stop();
          this.fleet.stop();
          this.rollouts.stop();
          clearTimeout(this.zoneTimer);
          this.controlPlane.stop();
          this.dns.close();
        },
      }),
      new Service('xds-server', {
        starting: async () => {
          const port = await new Promise<number>((resolve, reject) =>
            this.grpcServer.bindAsync(this.opts.grpcAddress, this.opts.tls.credentials, (err, p) => (err ? reject(err) : resolve(p))),
          );
          this.opts.tls.source?.start();
          const host = this.opts.grpcAddress.slice(0, this.opts.grpcAddress.lastIndexOf(':'));
          this.address = `${host === '' || host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${port}`;
        },
        stopping: async () => {
          // ADS streams never end on their own, so a graceful tryShutdown would wait forever:
          // end them now; xDS clients see UNAVAILABLE, keep their last good config and reconnect.
          this.grpcServer.forceShutdown();
          this.ads.closeStreams();
          this.lrs.closeStreams();
          this.opts.tls.source?.stop();
        },
      }),
    ];
  }
}
