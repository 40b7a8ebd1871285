// A worker process (-server.workers > 1): serves HTTP on the port the primary shares, from the
// config the primary's xDS client ACKed; reports what it applied, answers metrics collection, and
// hands its LoadRecorder's reports to the primary, whose LRS client reports the whole gateway.

import type { Registry } from 'prom-client';
import type { LoadRecorder } from '../data-plane/load/load-recorder.js';
import { acceptedFromRaw, type AcceptedResources } from '../data-plane/xds/accepted-state.js';
import type { ConfigFeed } from './gateway-module.js';
import type { WorkerRole } from './modules.js';
import { isMessage, LOAD_REPORT_INTERVAL_MS, type PrimaryMessage, type WorkerMessage } from './worker-protocol.js';

function send(m: WorkerMessage): void {
  if (process.connected) process.send?.(m);
}

/** The worker's side of the channel; `registry` is read for metrics, `load()` for load reports. */
export function workerRole(registry: Registry, onStop: () => void, load: () => LoadRecorder | undefined): WorkerRole {
  let onUpdate: ((a: AcceptedResources) => void) | undefined;
  let fleetNotReady: string | undefined = 'waiting for the primary';
  const scrapes = new Map<number, (text: string) => void>();
  let nextScrape = 1;
  let loadTimer: NodeJS.Timeout | undefined;
  let lastSentSomething = false;

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

  /**
   * The recorder's counts since the last report go to the primary (and are reset here: the primary
   * alone reports over LRS, so nothing is counted twice). One empty report follows a non-empty one:
   * it tells the primary nothing is in progress any more.
   */
  const reportLoad = (): void => {
    const stats = load()?.takeReport() ?? [];
    if (stats.length === 0 && !lastSentSomething) return;
    lastSentSomething = stats.length > 0;
    send({ t: 'mgw:load', stats });
  };

  const feed: ConfigFeed = {
    start(update) {
      onUpdate = update;
      process.on('message', onMessage);
      send({ t: 'mgw:hello' });
      loadTimer = setInterval(reportLoad, LOAD_REPORT_INTERVAL_MS);
      loadTimer.unref();
    },
    stop() {
      clearInterval(loadTimer);
      reportLoad();
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
