// A DnsWatcher with its own registry and captured logs, against a real DnsServer on loopback.

import { pino } from 'pino';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import { DnsWatcher } from '../../control-plane/dns/dns-watcher.js';
import type { DnsWatcherOptions } from '../../control-plane/dns/dns-watcher.js';
import { dnsTargetKey } from '../../core/model.js';
import type { DnsTarget, Endpoint } from '../../core/model.js';
import { DnsServer } from '../../examples/local/dns-server.js';
import type { DnsServerOptions } from '../../examples/local/dns-server.js';

export interface WatcherHarness {
  readonly watcher: DnsWatcher;
  readonly registry: Registry;
  readonly logs: Array<Record<string, unknown>>;
}

/** `cleanups` gets the close of everything started, for the test's afterEach. */
export async function startDnsServer(cleanups: Array<() => unknown>, options: DnsServerOptions = {}): Promise<DnsServer> {
  const server = await DnsServer.start({ host: '127.0.0.1', port: 0, ...options });
  cleanups.push(() => server.close());
  return server;
}

export function startWatcher(cleanups: Array<() => unknown>, options: Partial<DnsWatcherOptions> = {}): WatcherHarness {
  const logs: Array<Record<string, unknown>> = [];
  const logger: Logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line)) });
  const registry = new Registry();
  const watcher = new DnsWatcher({ lookupPeriodMs: 200, minIntervalMs: 50, logger, registry, ...options });
  cleanups.push(() => watcher.close());
  return { watcher, registry, logs };
}

export function dnsTarget(server: DnsServer | undefined, host: string, port = 9095): DnsTarget {
  return { kind: 'dns', server: server ? { host: server.host, port: server.port } : undefined, host, port };
}

/** Sum of a metric's series whose labels match (0 when absent). */
export async function metricSum(registry: Registry, name: string, labels: Record<string, string>): Promise<number> {
  const m = registry.getSingleMetric(name);
  if (!m) return 0;
  const { values } = await m.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want))
    .reduce((sum, v) => sum + v.value, 0);
}

/** control_plane_dns_lookups_total of `t`, all outcomes or one. */
export const lookups = (h: WatcherHarness, t: DnsTarget, outcome?: string): Promise<number> =>
  metricSum(h.registry, 'control_plane_dns_lookups_total', { target: dnsTargetKey(t), ...(outcome ? { outcome } : {}) });

export const ep = (address: string, port = 9095): Endpoint => ({ address, port });

/** `count` A records 10.x.y.z with one TTL, in order. */
export function manyARecords(count: number, ttl: number): Array<{ type: 'A'; address: string; ttl: number }> {
  return Array.from({ length: count }, (_, i) => ({ type: 'A', address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, ttl }));
}
