import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import {
  loadAdsService, type DiscoveryRequestMessage, type DiscoveryResponseMessage, type NodeMessage,
} from '../../xds/ads-service.js';
import { shortType, TYPE_ORDER, TYPE_URL, type TypeUrl } from '../../xds/resource.js';
import { AcceptedStore, type AcceptedResources, type RawAccepted } from './accepted-state.js';
import { Backoff } from './backoff.js';
import { nodeMessage, type JsonValue } from './node.js';
import { checkResponse, nackMessage } from './response-check.js';
import { desiredSubscription, requestNames, sameSubscription, wants, type TypeSubscription } from './subscriptions.js';
import { XdsClientMetrics } from './xds-client-metrics.js';
import { XdsClientStatusBook, type XdsClientStatus } from './xds-client-status.js';

// The gateway's side of Envoy v3 ADS, state of the world (StreamAggregatedResources), following
// envoy docs/root/api-docs/xds_protocol.rst. One stream at a time; each response is decoded,
// PGV-validated and checked before anything is applied, then ACKed, or NACKed with the reasons.
// What was accepted is kept across reconnects for as long as the process lives: it is the last
// good config, and a control plane that is away must not take the gateway's routes with it.

export type { AcceptedResources } from './accepted-state.js';
export type {
  DecodedCluster, DecodedClusterLoadAssignment, DecodedListener, DecodedRouteConfiguration,
} from '../../xds/decoded.js';
export type { XdsClientStatus, XdsTypeStatus } from './xds-client-status.js';
export type { JsonValue };

/** The channel an ADS stream runs on (grpc-js exports the class, not the interface getChannel returns). */
export type XdsChannel = ReturnType<grpc.Client['getChannel']>;

export interface XdsClientOptions {
  /** "host:port" of each control-plane server; tried in order, moving to the next on each attempt. */
  readonly servers: readonly string[];
  /** user_agent_name is always 'metrics-gateway'. */
  readonly node: { readonly id: string; readonly cluster: string; readonly metadata?: Record<string, JsonValue>; readonly locality?: { readonly region: string; readonly zone: string } };
  /** The gateway listener to follow, e.g. 'metrics-gateway'. */
  readonly listenerName: string;
  readonly logger: Logger;
  readonly registry: Registry;
  /**
   * Extra semantic checks of one response (after PGV), e.g. a route naming a cluster that is not
   * accepted. Return problems; non-empty ⇒ the whole response is NACKed.
   */
  check?(typeUrl: TypeUrl, resources: ReadonlyMap<string, unknown>, accepted: AcceptedResources): string[];
  /** Called after each ACK that changed something. */
  onUpdate(accepted: AcceptedResources, changedType: TypeUrl): void;
  readonly backoff?: { readonly initialMs?: number; readonly maxMs?: number; readonly random?: () => number };
  /** Defaults to plaintext. */
  readonly credentials?: grpc.ChannelCredentials;
  /** Added to the channel's own options (e.g. grpc.ssl_target_name_override for the TLS server name). */
  readonly channelOptions?: grpc.ChannelOptions;
  /**
   * Called after an attempt that got no response: why the server could not be reached, as a fix an
   * operator can make (a TLS handshake the server refused, TLS on one side only), or undefined.
   */
  explainConnectFailure?(server: string): Promise<string | undefined>;
  /** Node.user_agent_version (the gateway's version). */
  readonly userAgentVersion?: string;
  /**
   * Told when the ADS stream is connected (with its channel, for other xDS streams such as load
   * reporting to share) and when it ends (undefined).
   */
  onChannel?(channel: XdsChannel | undefined, server: string): void;
}

// grpc-go's xDS client keeps its ADS connection alive with pings every 5 minutes, 20 s timeout:
// often enough to notice a control plane that vanished without a TCP reset, rarely enough not to
// trip servers' ping policies (gRFC A8 default MinTime is 5 minutes).
const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc.keepalive_time_ms': 5 * 60_000,
  'grpc.keepalive_timeout_ms': 20_000,
};

const KNOWN_TYPES: ReadonlySet<string> = new Set(TYPE_ORDER);

type AdsCall = grpc.ClientDuplexStream<DiscoveryRequestMessage, DiscoveryResponseMessage>;

/** Per-stream protocol state; dropped with the stream (nonces mean nothing on another stream). */
interface ActiveStream {
  readonly server: string;
  readonly client: grpc.Client;
  readonly call: AdsCall;
  readonly ended: Promise<void>;
  /** Nonce of the latest response of each type on this stream. */
  readonly nonces: Map<TypeUrl, string>;
  /** What each type's latest request on this stream asked for. */
  readonly requested: Map<TypeUrl, TypeSubscription>;
  nodeSent: boolean;
  gotResponse: boolean;
  done: boolean;
}

export class XdsClient {
  private readonly opts: XdsClientOptions;
  private readonly logger: Logger;
  private readonly store = new AcceptedStore();
  private readonly backoff: Backoff;
  private readonly metrics: XdsClientMetrics;
  private readonly book: XdsClientStatusBook;
  private readonly node: NodeMessage;
  private running = false;
  private attempt = 0;
  private stream: ActiveStream | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Last explanation logged per server, so a failing server is explained once, not every retry. */
  private readonly explained = new Map<string, string>();

  constructor(opts: XdsClientOptions) {
    if (opts.servers.length === 0) throw new Error('xds client: no control-plane servers configured');
    this.opts = opts;
    this.logger = opts.logger;
    this.backoff = new Backoff(opts.backoff);
    this.metrics = new XdsClientMetrics(opts.registry, opts.servers);
    this.book = new XdsClientStatusBook();
    this.node = nodeMessage(opts.node, opts.userAgentVersion ?? '');
  }

  /** The Node this client identifies itself with. */
  get nodeMessage(): NodeMessage {
    return this.node;
  }

  /** Everything ACKed so far; a new value after every change. */
  get accepted(): AcceptedResources {
    return this.store.current;
  }

  /** Opens the ADS stream (and keeps one open until stop()). Idempotent. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.backoff.reset();
    this.connect();
  }

  /** Cancels the stream and every timer; resolves once the stream has ended. Accepted resources stay. */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const s = this.stream;
    this.book.stopped();
    if (!s) return;
    s.call.cancel();
    await s.ended;
  }

  /** The facts behind the metrics, as JSON (served at /gateway/api/v1/config). */
  /** The accepted resources as received bytes (see RawAccepted): what workers are handed. */
  rawAccepted(): RawAccepted {
    return this.store.raw();
  }

  status(): XdsClientStatus {
    return this.book.view(this.store.current, (t) => this.desired(t));
  }

  private desired(typeUrl: TypeUrl): TypeSubscription {
    return desiredSubscription(typeUrl, this.opts.listenerName, this.store.current);
  }

  private connect(): void {
    const servers = this.opts.servers;
    const server = servers[this.attempt % servers.length] ?? servers[0] ?? '';
    if (this.attempt > 0) this.metrics.reconnects.inc({ server });
    this.attempt++;
    const { Client } = loadAdsService();
    // A fresh channel per attempt: a reused one would add grpc-js's own reconnect backoff
    // (up to 120 s) on top of ours and could keep us away from a server that is back.
    const client = new Client(server, this.opts.credentials ?? grpc.credentials.createInsecure(), { ...CHANNEL_OPTIONS, ...this.opts.channelOptions });
    const method = (client as unknown as Record<string, (this: grpc.Client) => AdsCall>)['StreamAggregatedResources'];
    if (!method) throw new Error('xds client: StreamAggregatedResources missing from the loaded service');
    const call = method.call(client);
    let endedResolve: () => void = () => {};
    const ended = new Promise<void>((resolve) => (endedResolve = resolve));
    const s: ActiveStream = {
      server, client, call, ended, nonces: new Map(), requested: new Map(), nodeSent: false, gotResponse: false, done: false,
    };
    this.stream = s;
    this.book.connecting(server);
    this.logger.debug({ server }, 'xds client: opening ADS stream');

    call.on('data', (res: DiscoveryResponseMessage) => this.onResponse(s, res));
    call.on('error', () => {}); // the 'status' event carries the same facts
    call.on('status', (st: grpc.StatusObject) => {
      this.onStreamEnd(s, st);
      endedResolve();
    });
    this.watchReady(s);
    // Resume (xds_protocol.rst, "ACK/NACK and resource type instance version"): each type's first
    // request carries the last ACKed version and no nonce, so a server may skip what we hold.
    for (const typeUrl of TYPE_ORDER) this.subscribe(s, typeUrl);
  }

  /** "Connected" once the channel under the stream is READY (the server may have nothing to send yet). */
  private watchReady(s: ActiveStream): void {
    const channel = s.client.getChannel();
    const check = (): void => {
      if (s.done || s !== this.stream) return;
      const state = channel.getConnectivityState(false);
      if (state === grpc.connectivityState.READY) {
        this.markConnected(s);
        return;
      }
      if (state === grpc.connectivityState.SHUTDOWN) return;
      channel.watchConnectivityState(state, Infinity, check);
    };
    check();
  }

  private markConnected(s: ActiveStream): void {
    if (this.book.isConnected()) return;
    this.explained.delete(s.server);
    this.book.connected(s.server);
    this.metrics.setConnected(s.server, true);
    this.logger.info({ server: s.server }, 'xds client: ADS stream connected');
    this.opts.onChannel?.(s.client.getChannel(), s.server);
  }

  /** Sends a request for `typeUrl` if what it should ask for differs from what was last asked on `s`. */
  private subscribe(s: ActiveStream, typeUrl: TypeUrl): void {
    const want = this.desired(typeUrl);
    const asked = s.requested.get(typeUrl);
    if (asked ? sameSubscription(asked, want) : !want.wildcard && want.names.size === 0) return;
    s.requested.set(typeUrl, want);
    this.send(s, {
      type_url: typeUrl,
      version_info: this.store.version(typeUrl),
      response_nonce: s.nonces.get(typeUrl) ?? '',
      resource_names: requestNames(want),
      error_detail: null,
    });
  }

  private send(s: ActiveStream, req: Omit<DiscoveryRequestMessage, 'node'>): void {
    if (s.done) return;
    // The node is required on the first request of a stream only (xds_protocol.rst, "Basic Protocol Overview").
    const node = s.nodeSent ? null : this.node;
    s.nodeSent = true;
    s.call.write({ ...req, node });
  }

  private onResponse(s: ActiveStream, res: DiscoveryResponseMessage): void {
    if (s.done || s !== this.stream) return;
    if (!s.gotResponse) {
      s.gotResponse = true;
      this.backoff.reset();
      this.markConnected(s);
    }
    if (!KNOWN_TYPES.has(res.type_url)) {
      this.logger.warn({ typeUrl: res.type_url }, 'xds client: response of a type never requested; ignored');
      return;
    }
    const typeUrl = res.type_url as TypeUrl;
    s.nonces.set(typeUrl, res.nonce);
    const sub = s.requested.get(typeUrl) ?? this.desired(typeUrl);
    const checked = checkResponse(typeUrl, res.resources, (name) => wants(sub, name));
    let problems = checked.ok ? [] : [...checked.problems];
    if (checked.ok && this.opts.check) {
      const decoded = new Map<string, unknown>([...checked.resources].map(([n, r]) => [n, r.decoded]));
      try {
        problems = this.opts.check(typeUrl, decoded, this.store.current);
      } catch (err) {
        problems = [`${shortType(typeUrl)}: semantic check failed: ${(err as Error).message}`];
      }
    }
    if (!checked.ok || problems.length > 0) {
      this.nack(s, typeUrl, res, sub, problems);
      return;
    }

    const changed = this.store.apply(typeUrl, res.version_info, checked.resources);
    this.send(s, {
      type_url: typeUrl,
      version_info: res.version_info,
      response_nonce: res.nonce,
      resource_names: requestNames(sub),
      error_detail: null,
    });
    // A new listener or cluster set may name other route configs or endpoint sets: follow them,
    // and forget the ones nothing names any more.
    let pruned = false;
    const dependent = typeUrl === TYPE_URL.listener ? TYPE_URL.route : typeUrl === TYPE_URL.cluster ? TYPE_URL.endpoint : undefined;
    if (dependent) {
      pruned = this.store.retain(dependent, this.desired(dependent).names);
      this.subscribe(s, dependent);
    }
    const updated = changed || pruned;
    this.metrics.applied(typeUrl, res.version_info, updated);
    this.book.acked(typeUrl, res.nonce, updated);
    this.logger[updated ? 'info' : 'debug'](
      { typeUrl, version: res.version_info, resources: checked.resources.size, changed: updated },
      'xds client: ACK',
    );
    if (!updated) return;
    try {
      this.opts.onUpdate(this.store.current, typeUrl);
    } catch (err) {
      this.logger.error({ err, typeUrl }, 'xds client: onUpdate failed');
    }
  }

  /** xds_protocol.rst, "ACK and NACK semantics summary": previous good version, this nonce, the reasons. */
  private nack(s: ActiveStream, typeUrl: TypeUrl, res: DiscoveryResponseMessage, sub: TypeSubscription, problems: readonly string[]): void {
    const message = nackMessage(problems);
    const previous = this.store.version(typeUrl);
    this.send(s, {
      type_url: typeUrl,
      version_info: previous,
      response_nonce: res.nonce,
      resource_names: requestNames(sub),
      error_detail: { code: grpc.status.INVALID_ARGUMENT, message },
    });
    this.metrics.rejected(typeUrl);
    this.book.nacked(typeUrl, res.version_info, res.nonce, message);
    this.logger.warn(
      { typeUrl, rejectedVersion: res.version_info, keptVersion: previous, problems },
      'xds client: NACK; keeping the last accepted config',
    );
  }

  private onStreamEnd(s: ActiveStream, st: grpc.StatusObject): void {
    if (s.done) return;
    s.done = true;
    if (s === this.stream) this.opts.onChannel?.(undefined, s.server);
    s.client.close();
    if (s !== this.stream) return;
    this.stream = undefined;
    this.metrics.setConnected(s.server, false);
    if (!this.running) {
      this.book.stopped();
      return;
    }
    const message = `${grpc.status[st.code] ?? st.code}: ${st.details}`;
    const delay = this.backoff.next();
    this.book.disconnected(s.server, message, Date.now() + delay);
    this.logger.warn(
      { server: s.server, error: message, retryInMs: delay },
      'xds client: ADS stream ended; keeping the last accepted config and reconnecting',
    );
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.running) this.connect();
    }, delay);
    this.timer.unref();
    if (!s.gotResponse) this.explain(s.server);
  }

  private explain(server: string): void {
    const explain = this.opts.explainConnectFailure;
    if (!explain) return;
    explain.call(this.opts, server).then(
      (why) => {
        this.book.explain(server, why);
        if (why === undefined || this.explained.get(server) === why) return;
        this.explained.set(server, why);
        this.logger.error({ server, why }, `xds client: cannot connect to the control plane: ${why}`);
      },
      () => undefined,
    );
  }
}
