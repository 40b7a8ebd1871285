// A worker process (-server.workers > 1): serves HTTP on the port the primary shares, from the
// config the primary's xDS client ACKed; reports what it applied, answers metrics collection, and
// sends per-endpoint request counters for load reporting.

import type { Registry } from 'prom-client';
import { acceptedFromRaw, type AcceptedResources } from '../data-plane/xds/accepted-state.js';
import type { ConfigFeed } from './gateway-module.js';
import type { WorkerRole } from './modules.js';
import { isMessage, LOAD_REPORT_INTERVAL_MS, type EndpointLoad, type PrimaryMessage, type WorkerMessage } from './worker-protocol.js';

function send(m: WorkerMessage): void {
  if (process.connected) process.send?.(m);
}

/** The worker's side of the channel; `registry` is read for metrics and load counters. */
export function workerRole(registry: Registry, onStop: () => void): WorkerRole {
  let onUpdate: ((a: AcceptedResources) => void) | undefined;
  let fleetNotReady: string | undefined = 'waiting for the primary';
  const scrapes = new Map<number, (text: string) => void>();
  let nextScrape = 1;
  let loadTimer: NodeJS.Timeout | undefined;
  const lastCounts = new Map<string, number>();

  const onMessage = (m: unknown): void => {
    if (!isMessage<PrimaryMessage>(m)) return;
    switch (m.t) {
      case 'mgw:resources':
        onUpdate?.(acceptedFromRaw(m.raw));
        return;
      case 'mgw:fleet':
        fleetNotReady = m.notReady;
        return;
      case 'mgw:collect':
        void registry.getMetricsAsJSON().then((json) => send({ t: 'mgw:metrics-json', id: m.id, json }));
        return;
      case 'mgw:metrics':
        scrapes.get(m.id)?.(m.text);
        scrapes.delete(m.id);
        return;
      case 'mgw:stop':
        onStop();
    }
  };

  /** Deltas of metrics_gateway_httpgrpc_{requests,errors}_total per endpoint since the last report. */
  const reportLoad = async (): Promise<void> => {
    const byKey = new Map<string, { backend: string; endpoint: string; requests: number; errors: number }>();
    for (const [name, field] of [['metrics_gateway_httpgrpc_requests_total', 'requests'], ['metrics_gateway_httpgrpc_errors_total', 'errors']] as const) {
      const metric = registry.getSingleMetric(name);
      if (!metric) continue;
      for (const v of (await metric.get()).values) {
        const backend = String(v.labels['backend']);
        const endpoint = String(v.labels['endpoint']);
        const key = `${backend}\u0000${endpoint}`;
        const entry = byKey.get(key) ?? { backend, endpoint, requests: 0, errors: 0 };
        entry[field] += v.value;
        byKey.set(key, entry);
      }
    }
    const entries: EndpointLoad[] = [];
    for (const [key, e] of byKey) {
      const requests = e.requests - (lastCounts.get(`r${key}`) ?? 0);
      const errors = e.errors - (lastCounts.get(`e${key}`) ?? 0);
      lastCounts.set(`r${key}`, e.requests);
      lastCounts.set(`e${key}`, e.errors);
      // A series that was dropped and came back starts from 0 again: report it whole.
      if (requests > 0 || errors > 0) entries.push({ backend: e.backend, endpoint: e.endpoint, requests: Math.max(0, requests), errors: Math.max(0, errors) });
    }
    if (entries.length > 0) send({ t: 'mgw:load', intervalMs: LOAD_REPORT_INTERVAL_MS, entries });
  };

  const feed: ConfigFeed = {
    start(update) {
      onUpdate = update;
      process.on('message', onMessage);
      send({ t: 'mgw:hello' });
      loadTimer = setInterval(() => void reportLoad(), LOAD_REPORT_INTERVAL_MS);
      loadTimer.unref();
    },
    stop() {
      clearInterval(loadTimer);
      void reportLoad();
    },
  };
  return {
    kind: 'worker',
    feed,
    onApplied: (version) => send({ t: 'mgw:applied', version }),
    fleetNotReady: () => fleetNotReady,
    metrics: () =>
      new Promise<string>((resolve) => {
        const id = nextScrape++;
        // The primary gone (or too slow): this worker's own metrics beat no answer.
        const timer = setTimeout(() => {
          scrapes.delete(id);
          void registry.metrics().then(resolve);
        }, 5_000);
        scrapes.set(id, (text) => {
          clearTimeout(timer);
          resolve(text);
        });
        send({ t: 'mgw:scrape', id });
      }),
  };
}
