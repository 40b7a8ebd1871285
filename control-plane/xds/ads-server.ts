import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { loadAdsService, type DeltaDiscoveryRequestMessage, type DiscoveryRequestMessage } from '../../xds/ads-service.js';
import { DeltaStream } from './delta-stream.js';
import { NodeRegistry } from './node-registry.js';
import { ResponseEncoder } from './response-encoding.js';
import type { SnapshotCache } from './snapshot-cache.js';
import { SotwStream } from './sotw-stream.js';
import { AdsProtocolError, type StreamDeps } from './stream-common.js';
import { SendBudget, StreamWriter } from './stream-writer.js';
import { AdsMetrics, type AdsProtocol } from './xds-metrics.js';
import { typeLabel } from '../../xds/resource.js';

// The envoy.service.discovery.v3.AggregatedDiscoveryService: both ADS methods, one stream
// object per call, all of its state dropped when the call ends.

export interface AdsServerOptions {
  readonly cache: SnapshotCache;
  readonly logger: Logger;
  readonly metricsRegistry: Registry;
  /** Defaults to a registry that reports the cache's snapshot status. */
  readonly nodes?: NodeRegistry;
  /** Response bytes written to all streams and not yet sent, at most (default 64 MiB). */
  readonly sendBudgetBytes?: number;
}

export interface ListeningAdsServer {
  readonly port: number;
  /** Ends every stream (clients see UNAVAILABLE and reconnect) and stops listening. */
  close(): Promise<void>;
}

interface ProtocolStream<Req> {
  onRequest(req: Req): void;
  close(): void;
}

export class AdsServer {
  readonly nodes: NodeRegistry;
  private readonly cache: SnapshotCache;
  private readonly logger: Logger;
  private readonly metrics: AdsMetrics;
  private readonly encoder: ResponseEncoder;
  private readonly open = new Set<() => void>();
  /** Bytes of responses written to all streams and not yet sent, bounded (stream-writer.ts). */
  private readonly budget: SendBudget;

  constructor(opts: AdsServerOptions) {
    this.cache = opts.cache;
    this.logger = opts.logger;
    this.metrics = new AdsMetrics(opts.metricsRegistry);
    this.encoder = new ResponseEncoder(this.metrics.resourceEncodings);
    this.budget = new SendBudget(opts.sendBudgetBytes);
    this.nodes =
      opts.nodes ??
      new NodeRegistry({
        snapshotStatus: () => opts.cache.status(),
        onPushAnswered: (typeUrl, protocol, seconds) => this.metrics.pushDuration.observe({ type: typeLabel(typeUrl), protocol }, seconds),
      });
  }

  /** Registers the ADS service on `server` (the process's gRPC server). */
  addTo(server: grpc.Server): void {
    const sotw: grpc.handleBidiStreamingCall<DiscoveryRequestMessage, Buffer> = (call) =>
      this.serve('sotw', call, (deps, send) => new SotwStream(deps, send));
    const delta: grpc.handleBidiStreamingCall<DeltaDiscoveryRequestMessage, Buffer> = (call) =>
      this.serve('delta', call, (deps, send) => new DeltaStream(deps, send));
    server.addService(preEncodedResponses(loadAdsService().service), { StreamAggregatedResources: sotw, DeltaAggregatedResources: delta });
  }

  /** A gRPC server of its own with only ADS on it (tests, tools); port 0 picks a free port. */
  async listen(address = '127.0.0.1:0'): Promise<ListeningAdsServer> {
    const server = new grpc.Server();
    this.addTo(server);
    const port = await new Promise<number>((resolve, reject) => {
      server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p)));
    });
    return {
      port,
      close: async () => {
        server.forceShutdown();
        this.closeStreams();
      },
    };
  }

  /** Streams currently open; every one of them holds per-stream state. */
  openStreams(): number {
    return this.open.size;
  }

  /** Drops the state of every open stream (shutdown). */
  closeStreams(): void {
    for (const finish of [...this.open]) finish();
  }

  private serve<Req>(
    protocol: AdsProtocol,
    call: grpc.ServerDuplexStream<Req, Buffer>,
    create: (deps: StreamDeps, send: (res: Buffer, supersedes?: string) => void) => ProtocolStream<Req>,
  ): void {
    const record = this.nodes.connect(protocol, call.getPeer());
    const logger = this.logger.child({ adsStream: record.streamId, protocol });
    const writer = new StreamWriter(this.budget, (bytes, done) => call.write(bytes, done));
    const stream = create({ cache: this.cache, encoder: this.encoder, record, metrics: this.metrics, logger }, (res, supersedes) => writer.send(res, supersedes));
    this.metrics.connectedStreams.inc({ protocol });
    logger.debug({ peer: record.peer }, 'ads: stream opened');

    let finished = false;
    const finish = (why?: string): void => {
      if (finished) return;
      finished = true;
      stream.close();
      writer.close();
      this.open.delete(finish);
      this.nodes.disconnect(record);
      this.metrics.connectedStreams.dec({ protocol });
      logger.info({ nodeId: record.nodeId, peer: record.peer, why: why ?? 'server shutdown' }, 'ads: stream closed');
    };
    this.open.add(finish);

    call.on('data', (req: Req) => {
      try {
        stream.onRequest(req);
      } catch (err) {
        const invalid = err instanceof AdsProtocolError;
        if (!invalid) logger.error({ err }, 'ads: request handling failed');
        finish(invalid ? `protocol error: ${(err as Error).message}` : 'internal error');
        // Ends the call with this status (grpc-js server streams turn 'error' into the status).
        call.emit('error', {
          code: invalid ? grpc.status.INVALID_ARGUMENT : grpc.status.INTERNAL,
          details: invalid ? (err as Error).message : 'internal error',
        });
      }
    });
    call.on('end', () => {
      finish('client closed the stream');
      call.end();
    });
    call.on('cancelled', () => finish('cancelled'));
    call.on('error', (err: Error) => finish(`error: ${err.message}`));
    call.on('close', () => finish('closed'));
  }
}

/**
 * The ADS service with responses written as the bytes the streams encoded (response-encoding.ts) instead
 * of through protobufjs per call; requests are still decoded by proto-loader.
 */
function preEncodedResponses(service: grpc.ServiceDefinition): grpc.ServiceDefinition {
  const out: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const [name, method] of Object.entries(service)) {
    out[name] = { ...method, responseSerialize: (value: unknown) => (Buffer.isBuffer(value) ? value : method.responseSerialize(value)) };
  }
  return out;
}
