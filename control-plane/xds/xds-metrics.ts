import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { TYPE_ORDER, typeLabel } from '../../xds/resource.js';
import type { Snapshot } from './snapshot.js';

// Metrics of the xDS cache and ADS servers, registered on the Registry the caller passes.

export type AdsProtocol = 'sotw' | 'delta';

export class AdsMetrics {
  readonly connectedStreams: Gauge<'protocol'>;
  readonly responses: Counter<'type' | 'protocol'>;
  readonly acks: Counter<'type' | 'protocol'>;
  readonly nacks: Counter<'type' | 'protocol'>;
  readonly pushDuration: Histogram<'type' | 'protocol'>;
  readonly resourceEncodings: Counter<'type'>;
  readonly responseBytes: Counter<'type' | 'protocol'>;

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
    this.pushDuration = new Histogram({
      name: 'control_plane_xds_push_duration_seconds',
      help: 'Time from an xDS response written to a stream until the client ACKed or NACKed that version (its validation and apply included).',
      labelNames: ['type', 'protocol'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    });
    this.resourceEncodings = new Counter({
      name: 'control_plane_xds_resource_encodings_total',
      help: 'Resources encoded into xDS responses, by type: once per resource version and protocol, whatever the number of streams it is sent to.',
      labelNames: ['type'],
      registers: [registry],
    });
    this.responseBytes = new Counter({
      name: 'control_plane_xds_response_bytes_total',
      help: 'Bytes of xDS responses written to streams (protobuf, before gRPC framing), by resource type.',
      labelNames: ['type', 'protocol'],
      registers: [registry],
    });
    for (const t of TYPE_ORDER) this.resourceEncodings.inc({ type: typeLabel(t) }, 0);
    for (const protocol of ['sotw', 'delta'] as const) {
      this.connectedStreams.set({ protocol }, 0);
      // Zero, not absent, until the first one: rate() and alerts see "none" rather than "unknown".
      for (const t of TYPE_ORDER) for (const c of [this.responses, this.acks, this.nacks, this.responseBytes]) c.inc({ type: typeLabel(t), protocol }, 0);
    }
  }
}

export class SnapshotMetrics {
  readonly publishes: Counter;
  readonly publishFailures: Counter;
  /** What the fleet should converge on: compared with metrics_gateway_xds_applied_version_info. */
  readonly versionInfo: Gauge<'type' | 'version'>;
  private readonly versionShown = new Map<string, string>();

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
    this.versionInfo = new Gauge({
      name: 'control_plane_snapshot_version_info',
      help: 'Always 1; the version label is the version_info served for this resource type (equal on every replica for equal config and DNS answers).',
      labelNames: ['type', 'version'],
      registers: [registry],
    });
  }

  published(snapshot: Snapshot): void {
    this.publishes.inc();
    for (const t of TYPE_ORDER) {
      const type = typeLabel(t);
      const version = snapshot.version(t);
      const shown = this.versionShown.get(type);
      if (shown === version) continue;
      if (shown !== undefined) this.versionInfo.remove({ type, version: shown });
      this.versionInfo.set({ type, version }, 1);
      this.versionShown.set(type, version);
    }
  }
}
