import { Counter, Gauge, type Registry } from 'prom-client';

// Metrics of the xDS cache and ADS servers, registered on the Registry the caller passes.

export type AdsProtocol = 'sotw' | 'delta';

export class AdsMetrics {
  readonly connectedStreams: Gauge<'protocol'>;
  readonly responses: Counter<'type' | 'protocol'>;
  readonly acks: Counter<'type' | 'protocol'>;
  readonly nacks: Counter<'type' | 'protocol'>;

  constructor(registry: Registry) {
    this.connectedStreams = new Gauge({
      name: 'control_plane_xds_connected_streams',
      help: 'ADS streams currently open, by protocol (sotw, delta).',
      labelNames: ['protocol'],
      registers: [registry],
    });
    this.responses = new Counter({
      name: 'control_plane_xds_responses_total',
      help: 'xDS responses pushed to clients, by resource type.',
      labelNames: ['type', 'protocol'],
      registers: [registry],
    });
    this.acks = new Counter({
      name: 'control_plane_xds_acks_total',
      help: 'xDS responses clients accepted (ACK), by resource type.',
      labelNames: ['type', 'protocol'],
      registers: [registry],
    });
    this.nacks = new Counter({
      name: 'control_plane_xds_nacks_total',
      help: 'xDS responses clients rejected (NACK, error_detail set), by resource type.',
      labelNames: ['type', 'protocol'],
      registers: [registry],
    });
    for (const p of ['sotw', 'delta'] as const) this.connectedStreams.set({ protocol: p }, 0);
  }
}

export class SnapshotMetrics {
  readonly publishes: Counter;
  readonly publishFailures: Counter;

  constructor(registry: Registry) {
    this.publishes = new Counter({
      name: 'control_plane_snapshot_publishes_total',
      help: 'Snapshots published to the xDS cache.',
      registers: [registry],
    });
    this.publishFailures = new Counter({
      name: 'control_plane_snapshot_publish_failures_total',
      help: 'Snapshots refused by the xDS cache because they were inconsistent; the previous one stays served.',
      registers: [registry],
    });
  }
}
