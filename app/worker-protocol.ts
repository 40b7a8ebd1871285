// Messages between the gateway's primary process and its workers (node:cluster IPC, `advanced`
// serialization so Buffers pass as bytes). One xDS client lives in the primary: the control plane
// sees one node per gateway, and workers get the ACKed resources as bytes, whatever they carry.
//
//   primary → worker  resources   the accepted resources (RawAccepted), after every change
//                     fleet       whether every worker has applied a config (for /ready)
//                     collect     "send me your metrics" (for an aggregated /metrics)
//                     metrics     the aggregated exposition a worker asked for
//                     xds         the xDS client's status a worker asked for
//                     stop        drain and exit (SIGTERM to the primary)
//   worker → primary  hello       ready for config: send the current resources and fleet state
//                     applied     the version it now serves
//                     scrape      a worker got GET /metrics: aggregate everything
//                     xds-status  a worker got GET /gateway/api/v1/config: the xDS client's status
//                     metrics-json its registry, answering `collect`
//                     load        its LoadRecorder's report since the last one (the primary's LRS sums them)

import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import type { RawAccepted } from '../data-plane/xds/accepted-state.js';
import type { ClusterStatsMessage } from '../xds/lrs-service.js';

export type PrimaryMessage =
  | { readonly t: 'mgw:resources'; readonly raw: RawAccepted }
  | { readonly t: 'mgw:fleet'; readonly notReady: string | undefined }
  | { readonly t: 'mgw:collect'; readonly id: number }
  | { readonly t: 'mgw:metrics'; readonly id: number; readonly text: string }
  | { readonly t: 'mgw:xds'; readonly id: number; readonly status: unknown }
  | { readonly t: 'mgw:stop' };

export type WorkerMessage =
  /** The worker listens for config now: send it the current one (messages before that are lost). */
  | { readonly t: 'mgw:hello' }
  | { readonly t: 'mgw:applied'; readonly version: string }
  | { readonly t: 'mgw:scrape'; readonly id: number }
  | { readonly t: 'mgw:xds-status'; readonly id: number }
  | { readonly t: 'mgw:metrics-json'; readonly id: number; readonly json: Array<MetricObjectWithValues<MetricValue<string>>> }
  /** Issued, succeeded, failed since the worker's last report, and what is in progress now. */
  | { readonly t: 'mgw:load'; readonly stats: readonly ClusterStatsMessage[] };

export function isMessage<T extends { t: string }>(m: unknown): m is T {
  return typeof m === 'object' && m !== null && typeof (m as { t?: unknown }).t === 'string' && (m as { t: string }).t.startsWith('mgw:');
}

/** Process env marking a worker, and its index (1-based) for logs and the `worker` label. */
export const WORKER_ENV = 'METRICS_GATEWAY_WORKER';
/**
 * Worker → primary load reports. The primary's LRS report carries what arrived since its last one, so
 * a report lags the traffic by up to this much: well under LRS intervals (≥ 1 s, a few by default).
 */
export const LOAD_REPORT_INTERVAL_MS = 500;
