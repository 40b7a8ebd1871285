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
  /** Questions to the primary awaiting its answer, by id (/metrics, the xDS status). */
  const asked = new Map<number, (answer: unknown) => void>();
  let nextId = 1;
  /** Asks the primary; the primary gone (or too slow): `fallback`, this worker's own view, beats no answer. */
  const ask = <T>(question: (id: number) => WorkerMessage, fallback: () => Promise<T> | T): Promise<T> =>
    new Promise<T>((resolve) => {
      const id = nextId++;
      const timer = setTimeout(() => {
        asked.delete(id);
        void Promise.resolve(fallback()).then(resolve);
      }, 5_000);
      asked.set(id, (answer) => {
        clearTimeout(timer);
        resolve(answer as T);
      });
      send(question(id));
    });
  const answered = (id: number, answer: unknown): void => {
    asked.get(id)?.(answer);
    asked.delete(id);
  };
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
        answered(m.id, m.text);
        return;
      case 'mgw:xds':
        answered(m.id, m.status);
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
    metrics: () => ask((id) => ({ t: 'mgw:scrape', id }), () => registry.metrics()),
    xdsStatus: () => ask((id) => ({ t: 'mgw:xds-status', id }), () => null),
  };
}
