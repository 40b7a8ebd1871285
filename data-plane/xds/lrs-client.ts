import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { NodeMessage } from '../../xds/ads-service.js';
import {
  durationMs, loadLrsService, type LoadStatsRequestMessage, type LoadStatsResponseMessage,
} from '../../xds/lrs-service.js';
import type { LoadRecorder } from '../load/load-recorder.js';
import type { XdsChannel } from './ads-client.js';

// The gateway's side of envoy.service.load_stats.v3.LoadReportingService/StreamLoadStats (lrs.proto):
// a stream on the ADS channel itself (same server, same credentials: the Clusters name the server
// they came from, `lrs_server: {self: {}}`), opened when ADS connects and ended with it. The server's
// answer sets the interval and which clusters to report; until it answers nothing is sent but the node.

export interface LrsClientOptions {
  readonly node: NodeMessage;
  readonly recorder: LoadRecorder;
  readonly logger: Logger;
}

type LrsCall = grpc.ClientDuplexStream<LoadStatsRequestMessage, LoadStatsResponseMessage>;

/** A server that does not serve LRS (UNIMPLEMENTED) is asked again this much later, not in a loop. */
const RETRY_MS = 30_000;

export class LrsClient {
  private call: LrsCall | undefined;
  private timer: NodeJS.Timeout | undefined;
  private retry: NodeJS.Timeout | undefined;
  private channel: XdsChannel | undefined;
  private intervalMs = 0;
  private reports = 0;

  constructor(private readonly opts: LrsClientOptions) {}

  /** Reports sent on the current or earlier streams (tests, status). */
  get sent(): number {
    return this.reports;
  }

  /** Called when ADS is connected over `channel`: report on it until it closes. */
  attach(channel: XdsChannel, server: string): void {
    this.detach();
    this.channel = channel;
    this.open(server);
  }

  /** Ends the stream and every timer. */
  detach(): void {
    this.channel = undefined;
    clearTimeout(this.retry);
    this.retry = undefined;
    this.endCall();
  }

  private endCall(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    const call = this.call;
    this.call = undefined;
    call?.cancel();
  }

  private open(server: string): void {
    const channel = this.channel;
    if (!channel) return;
    const { Client } = loadLrsService();
    // channelOverride: the ADS channel, so this stream shares its connection and credentials.
    const client = new Client(server, grpc.credentials.createInsecure(), { channelOverride: channel });
    const method = (client as unknown as Record<string, (this: grpc.Client) => LrsCall>)['StreamLoadStats'];
    if (!method) throw new Error('lrs client: StreamLoadStats missing from the loaded service');
    const call = method.call(client);
    this.call = call;
    call.on('data', (res: LoadStatsResponseMessage) => this.onResponse(call, res));
    call.on('error', () => {}); // 'status' carries the same facts
    call.on('status', (st: grpc.StatusObject) => {
      if (this.call !== call) return;
      this.endCall();
      if (this.channel !== channel) return;
      this.opts.logger[st.code === grpc.status.UNIMPLEMENTED ? 'info' : 'warn'](
        { server, code: grpc.status[st.code], details: st.details, retryInMs: RETRY_MS },
        'lrs client: load reporting stream ended',
      );
      this.retry = setTimeout(() => this.open(server), RETRY_MS);
      this.retry.unref();
    });
    call.write({ node: this.opts.node, cluster_stats: [] });
  }

  private onResponse(call: LrsCall, res: LoadStatsResponseMessage): void {
    if (this.call !== call) return;
    const interval = Math.max(1000, durationMs(res.load_reporting_interval));
    const wanted = res.send_all_clusters ? undefined : new Set(res.clusters);
    clearInterval(this.timer);
    // A new answer restarts the period (lrs.proto: the server may change interval and clusters).
    this.opts.recorder.takeReport();
    this.intervalMs = interval;
    this.timer = setInterval(() => {
      const stats = this.opts.recorder.takeReport().filter((c) => wanted === undefined || wanted.has(c.cluster_name));
      call.write({ node: null, cluster_stats: stats });
      this.reports++;
    }, this.intervalMs);
    this.timer.unref();
  }
}
