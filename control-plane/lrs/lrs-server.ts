import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import {
  loadLrsService, msDuration, type LoadStatsRequestMessage, type LoadStatsResponseMessage,
} from '../../xds/lrs-service.js';
import type { LoadStore } from './load-store.js';

// envoy.service.load_stats.v3.LoadReportingService/StreamLoadStats (lrs.proto): the client's first
// request names its node; we answer once, asking for every cluster (send_all_clusters) at our
// interval with per-endpoint detail, and from then on only listen. Every later request is one
// interval's load. The stream's state is dropped with the stream.

export interface LrsServerOptions {
  readonly store: LoadStore;
  readonly intervalMs: number;
  readonly logger: Logger;
}

export class LrsServer {
  private nextId = 1;
  private readonly open = new Set<() => void>();

  constructor(private readonly opts: LrsServerOptions) {}

  addTo(server: grpc.Server): void {
    const handler: grpc.handleBidiStreamingCall<LoadStatsRequestMessage, LoadStatsResponseMessage> = (call) => this.serve(call);
    server.addService(loadLrsService().service, { StreamLoadStats: handler });
  }

  /** Streams open now. */
  openStreams(): number {
    return this.open.size;
  }

  closeStreams(): void {
    for (const finish of [...this.open]) finish();
  }

  private serve(call: grpc.ServerDuplexStream<LoadStatsRequestMessage, LoadStatsResponseMessage>): void {
    const streamId = this.nextId++;
    const { store, logger } = this.opts;
    let nodeId: string | undefined;
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      this.open.delete(finish);
      store.nodeLeft(streamId);
      logger.debug({ lrsStream: streamId, nodeId }, 'lrs: stream closed');
    };
    this.open.add(finish);
    call.on('data', (req: LoadStatsRequestMessage) => {
      const first = nodeId === undefined;
      if (nodeId === undefined) {
        const node = req.node;
        if (!node || node.id === '') {
          finish();
          call.emit('error', { code: grpc.status.INVALID_ARGUMENT, details: 'the first LoadStatsRequest of a stream must carry the node (lrs.proto)' });
          return;
        }
        nodeId = node.id;
        const version = node.user_agent_version ?? '';
        store.nodeJoined(streamId, node.id, node.cluster, [node.user_agent_name, version].filter((s) => s !== '').join('/'));
        logger.debug({ lrsStream: streamId, nodeId }, 'lrs: stream opened');
        call.write({
          clusters: [],
          send_all_clusters: true,
          load_reporting_interval: msDuration(this.opts.intervalMs),
          report_endpoint_granularity: true,
        });
      }
      // The first request may already carry stats (Envoy's is empty); later empty ones are idle intervals.
      if (!first || req.cluster_stats.length > 0) store.record(streamId, req.cluster_stats, this.opts.intervalMs);
    });
    call.on('end', () => {
      finish();
      call.end();
    });
    call.on('cancelled', finish);
    call.on('error', finish);
    call.on('close', finish);
  }
}
