// -server.workers > 1: the primary process. It runs the control plane (when embedded) and the one xDS
// client (one node in the control plane's view), forks the workers (node:cluster: they share the
// listening socket), hands them every ACKed config as bytes, answers /metrics for the whole gateway,
// decides /ready for all, replaces a worker that dies, and drains them all on SIGTERM.

import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import { AggregatorRegistry, Counter, Gauge, type Registry } from 'prom-client';
import type { RawAccepted } from '../data-plane/xds/accepted-state.js';
import { num, type LoadedConfig } from './config.js';
import type { Modules } from './modules.js';
import { isMessage, WORKER_ENV, type PrimaryMessage, type WorkerMessage } from './worker-protocol.js';

interface WorkerSlot {
  readonly index: number;
  worker: Worker;
  applied: string | undefined;
}

export class WorkerPool {
  private readonly slots = new Map<number, WorkerSlot>();
  private raw: RawAccepted | undefined;
  private stopping = false;
  private nextCollect = 1;
  private readonly collects = new Map<number, { pending: Set<number>; json: unknown[]; done: () => void }>();
  private lastFleet: string | undefined | null = null;
  private readonly restarts: Counter;
  private readonly reported: Counter<'backend' | 'endpoint'>;
  private readonly applied: Gauge<'worker'>;

  constructor(
    private readonly count: number,
    private readonly modules: () => Modules,
    private readonly registry: Registry,
    private readonly logger: Logger,
    private readonly cfg: LoadedConfig,
  ) {
    this.restarts = new Counter({ name: 'metrics_gateway_worker_restarts_total', help: 'Worker processes that died and were replaced.', registers: [registry] });
    this.applied = new Gauge({
      name: 'metrics_gateway_worker_config_applied',
      help: 'Per worker: 1 once it serves a config from the control plane, 0 before.',
      labelNames: ['worker'],
      registers: [registry],
    });
    this.reported = new Counter({
      name: 'metrics_gateway_worker_load_reported_requests_total',
      help: 'Requests per backend and endpoint the workers reported to the primary (what its load reports, LRS, are made of).',
      labelNames: ['backend', 'endpoint'],
      registers: [registry],
    });
    new Gauge({ name: 'metrics_gateway_workers', help: 'Worker processes configured (-server.workers).', registers: [registry] }).set(count);
  }

  /** The xDS client accepted a change: every worker gets it. */
  relay(raw: RawAccepted): void {
    this.raw = raw;
    for (const s of this.slots.values()) this.send(s.worker, { t: 'mgw:resources', raw });
  }

  start(): void {
    cluster.setupPrimary({ serialization: 'advanced' });
    for (let i = 1; i <= this.count; i++) this.fork(i);
  }

  private fork(index: number): void {
    const worker = cluster.fork({ [WORKER_ENV]: String(index) });
    const slot: WorkerSlot = { index, worker, applied: undefined };
    this.slots.set(index, slot);
    this.applied.set({ worker: String(index) }, 0);
    worker.on('message', (m: unknown) => this.onMessage(slot, m));
    worker.once('exit', (code, signal) => {
      if (this.slots.get(index)?.worker !== worker) return;
      for (const c of this.collects.values()) if (c.pending.delete(worker.id) && c.pending.size === 0) c.done();
      // What it had in progress will never finish (its counts so far were reported and stay).
      this.modules().gateway?.load.forget(`worker ${index}`);
      if (this.stopping) {
        this.slots.delete(index);
        return;
      }
      this.restarts.inc();
      this.logger.warn({ worker: index, code, signal }, 'worker exited; starting a replacement');
      this.fork(index);
      this.updateFleet();
    });
    this.updateFleet();
  }

  private send(worker: Worker, m: PrimaryMessage): void {
    if (worker.isConnected()) worker.send(m);
  }

  private onMessage(slot: WorkerSlot, m: unknown): void {
    if (!isMessage<WorkerMessage>(m)) return;
    switch (m.t) {
      case 'mgw:hello':
        if (this.raw) this.send(slot.worker, { t: 'mgw:resources', raw: this.raw });
        this.send(slot.worker, { t: 'mgw:fleet', notReady: this.lastFleet ?? undefined });
        return;
      case 'mgw:applied':
        slot.applied = m.version;
        this.applied.set({ worker: String(slot.index) }, 1);
        this.updateFleet();
        return;
      case 'mgw:scrape':
        void this.aggregate().then((text) => this.send(slot.worker, { t: 'mgw:metrics', id: m.id, text }));
        return;
      case 'mgw:xds-status':
        this.send(slot.worker, { t: 'mgw:xds', id: m.id, status: this.modules().gateway?.xdsStatus() ?? null });
        return;
      case 'mgw:metrics-json': {
        const c = this.collects.get(m.id);
        if (!c || !c.pending.delete(slot.worker.id)) return;
        c.json.push(m.json);
        if (c.pending.size === 0) c.done();
        return;
      }
      case 'mgw:load':
        // The primary serves no traffic: its recorder holds exactly what the workers sent.
        this.modules().gateway?.load.absorb(`worker ${slot.index}`, m.stats);
        for (const c of m.stats) {
          for (const e of c.upstream_locality_stats.flatMap((l) => l.upstream_endpoint_stats)) {
            const sa = e.address?.socket_address;
            if (sa) this.reported.inc({ backend: c.cluster_name, endpoint: `${sa.address}:${sa.port_value}` }, Number(e.total_issued_requests));
          }
        }
    }
  }

  /** Why the gateway is not ready, told to every worker whenever it changes (their /ready). */
  private updateFleet(): void {
    const missing = [...this.slots.values()].filter((s) => s.applied === undefined).map((s) => s.index);
    const notReady = this.stopping
      ? 'shutting down'
      : missing.length > 0
        ? `worker${missing.length > 1 ? 's' : ''} ${missing.join(', ')} of ${this.count} ha${missing.length > 1 ? 've' : 's'} not applied a config yet`
        : undefined;
    if (notReady === this.lastFleet) return;
    this.lastFleet = notReady;
    for (const s of this.slots.values()) this.send(s.worker, { t: 'mgw:fleet', notReady });
  }

  /** Every worker's registry and the primary's own, summed (counters and gauges add up). */
  private async aggregate(): Promise<string> {
    const id = this.nextCollect++;
    const live = [...this.slots.values()].filter((s) => s.worker.isConnected());
    const json: unknown[] = [await this.registry.getMetricsAsJSON()];
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => done(), 3_000);
      const done = (): void => {
        clearTimeout(timer);
        this.collects.delete(id);
        resolve();
      };
      this.collects.set(id, { pending: new Set(live.map((s) => s.worker.id)), json, done });
      if (live.length === 0) done();
      for (const s of live) this.send(s.worker, { t: 'mgw:collect', id });
    });
    return AggregatorRegistry.aggregate(json as Parameters<typeof AggregatorRegistry.aggregate>[0]).metrics();
  }

  /** SIGTERM: every worker drains (its own graceful shutdown), then the primary's modules stop. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.updateFleet();
    const exits = [...this.slots.values()].map((s) => new Promise<void>((resolve) => (s.worker.isDead() ? resolve() : s.worker.once('exit', () => resolve()))));
    for (const s of this.slots.values()) this.send(s.worker, { t: 'mgw:stop' });
    const bound = num(this.cfg.tree, 'server.graceful_shutdown_timeout') + 5_000;
    const timer = setTimeout(() => {
      for (const s of this.slots.values()) if (!s.worker.isDead()) s.worker.process.kill('SIGKILL');
    }, bound);
    await Promise.all(exits);
    clearTimeout(timer);
    await this.modules().stop();
  }
}
