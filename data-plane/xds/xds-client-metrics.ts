import { Counter, Gauge, type Registry } from 'prom-client';
import { TYPE_ORDER, typeLabel, type TypeUrl } from '../../xds/resource.js';

// Metrics of the gateway's ADS client, registered on the Registry the caller passes. Type labels
// are the control plane's (lds, rds, cds, eds), so both sides of a NACK line up in dashboards.

export class XdsClientMetrics {
  readonly connected: Gauge<'server'>;
  readonly appliedVersion: Gauge<'type' | 'version'>;
  readonly lastUpdate: Gauge<'type'>;
  readonly acks: Counter<'type'>;
  readonly nacks: Counter<'type'>;
  readonly reconnects: Counter<'server'>;
  /** Version label currently set per type, so the old series can be removed (bounded cardinality). */
  private readonly versionShown = new Map<string, string>();

  constructor(registry: Registry, servers: readonly string[]) {
    this.connected = new Gauge({
      name: 'metrics_gateway_xds_connected',
      help: '1 while the ADS stream to this control-plane server is open, else 0.',
      labelNames: ['server'],
      registers: [registry],
    });
    this.appliedVersion = new Gauge({
      name: 'metrics_gateway_xds_applied_version_info',
      help: 'Always 1; the version label is the last ACKed version_info of this resource type.',
      labelNames: ['type', 'version'],
      registers: [registry],
    });
    this.lastUpdate = new Gauge({
      name: 'metrics_gateway_xds_last_update_timestamp_seconds',
      help: 'Unix time of the last ACKed response of this resource type that changed the applied config.',
      labelNames: ['type'],
      registers: [registry],
    });
    this.acks = new Counter({
      name: 'metrics_gateway_xds_acks_total',
      help: 'xDS responses accepted (ACKed), by resource type.',
      labelNames: ['type'],
      registers: [registry],
    });
    this.nacks = new Counter({
      name: 'metrics_gateway_xds_nacks_total',
      help: 'xDS responses rejected (NACKed), by resource type; the previous config stays applied.',
      labelNames: ['type'],
      registers: [registry],
    });
    this.reconnects = new Counter({
      name: 'metrics_gateway_xds_reconnects_total',
      help: 'ADS streams opened after the previous one ended, by control-plane server.',
      labelNames: ['server'],
      registers: [registry],
    });
    for (const server of servers) {
      this.connected.set({ server }, 0);
      this.reconnects.inc({ server }, 0);
    }
    // Zero, not absent, until the first one: rate() and alerts see "none" rather than "unknown".
    for (const typeUrl of TYPE_ORDER) {
      this.acks.inc({ type: typeLabel(typeUrl) }, 0);
      this.nacks.inc({ type: typeLabel(typeUrl) }, 0);
    }
  }

  setConnected(server: string, up: boolean): void {
    this.connected.set({ server }, up ? 1 : 0);
  }

  applied(typeUrl: TypeUrl, version: string, changed: boolean): void {
    const type = typeLabel(typeUrl);
    this.acks.inc({ type });
    const shown = this.versionShown.get(type);
    if (shown !== version) {
      if (shown !== undefined) this.appliedVersion.remove({ type, version: shown });
      this.appliedVersion.set({ type, version }, 1);
      this.versionShown.set(type, version);
    }
    if (changed) this.lastUpdate.set({ type }, Date.now() / 1000);
  }

  rejected(typeUrl: TypeUrl): void {
    this.nacks.inc({ type: typeLabel(typeUrl) });
  }
}
