// Demo distributors (examples/local/demo-distributor.ts: they decode remote-write and record every
// (series, timestamp)) on 127.0.0.2, .3, ... sharing one port, behind a real DNS server, as a headless
// Kubernetes Service presents them. Each host can be restarted gracefully, killed and brought back, or
// added; what every instance ever received is kept, so a test can count what reached the cluster.

import { DemoDistributor } from '../../examples/local/demo-distributor.js';
import { DnsServer } from '../../examples/local/dns-server.js';
import { onSharedPort } from './distributors.js';

export const CLUSTER_DNS_NAME = 'distributor.test';

export interface Received {
  /** Distinct (series, timestamp) pairs over every instance. */
  readonly unique: number;
  /** Pairs including duplicates (a batch delivered twice counts twice). */
  readonly total: number;
  /** Distinct series. */
  readonly series: number;
  /** Pairs received per host (every instance on that host), duplicates included. */
  readonly byHost: ReadonlyMap<string, number>;
  /** Requests per tenant over every instance. */
  readonly tenants: ReadonlyMap<string, number>;
}

export interface DemoClusterOptions {
  /** A-record TTL, seconds (default 1). */
  readonly ttl?: number;
  /**
   * Time each push takes after it was recorded, ms (default 0), as a real distributor spends it
   * writing to ingesters: requests are in flight long enough for a kill or restart to catch them.
   */
  readonly latencyMs?: number;
}

export class DemoCluster {
  /** Every instance ever started, by host, oldest first; the last one may be running. */
  private readonly instances = new Map<string, DemoDistributor[]>();
  private readonly running = new Map<string, DemoDistributor>();
  private readonly published = new Set<string>();

  private constructor(
    readonly dns: DnsServer,
    readonly port: number,
    private readonly opts: DemoClusterOptions,
  ) {}

  /** Starts a distributor on each host (one shared port) and publishes their A records. */
  static async start(hosts: readonly string[], opts: DemoClusterOptions = {}): Promise<DemoCluster> {
    const dns = await DnsServer.start({ host: '127.0.0.1', port: 0 });
    try {
      const { servers, port } = await onSharedPort(hosts, (host, p) => DemoDistributor.start({ host, port: p }), (d) => d.server.port, (d) => d.kill());
      const cluster = new DemoCluster(dns, port, opts);
      servers.forEach((d, i) => cluster.track(hosts[i]!, d));
      for (const h of hosts) cluster.published.add(h);
      cluster.publish();
      return cluster;
    } catch (err) {
      await dns.close();
      throw err;
    }
  }

  /** dns://<dns server>/distributor.test:<port> */
  get url(): string {
    return `dns://${this.dns.authority}/${CLUSTER_DNS_NAME}:${this.port}`;
  }

  get hosts(): readonly string[] {
    return [...this.published];
  }

  /** The distributor now running on `host`, if any. */
  current(host: string): DemoDistributor | undefined {
    return this.running.get(host);
  }

  /** Graceful restart: GOAWAY and drain in-flight calls, then a new instance on the same host:port. */
  async restartGracefully(host: string): Promise<void> {
    const d = this.running.get(host);
    if (d === undefined) throw new Error(`no distributor runs on ${host}`);
    this.running.delete(host);
    await d.shutdown();
    await this.startOn(host);
  }

  /** Hard stop (a crashed pod): every connection dropped, in-flight calls included. The DNS record stays. */
  kill(host: string): void {
    const d = this.running.get(host);
    if (d === undefined) throw new Error(`no distributor runs on ${host}`);
    this.running.delete(host);
    d.kill();
  }

  /** Starts a distributor on `host` (again); publishes its record if it is new. */
  async startOn(host: string): Promise<DemoDistributor> {
    if (this.running.has(host)) throw new Error(`a distributor already runs on ${host}`);
    // The old socket may linger for a moment after a shutdown: retry the bind briefly.
    let lastError: unknown;
    for (let attempt = 0; attempt < 20; attempt++) {
      try {
        const d = await DemoDistributor.start({ host, port: this.port });
        this.track(host, d);
        if (!this.published.has(host)) {
          this.published.add(host);
          this.publish();
        }
        return d;
      } catch (err) {
        lastError = err;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    throw lastError;
  }

  received(): Received {
    const pairs = new Map<string, Set<number>>();
    const byHost = new Map<string, number>();
    const tenants = new Map<string, number>();
    let total = 0;
    for (const [host, list] of this.instances) {
      let n = 0;
      for (const d of list) {
        n += d.pairCount;
        for (const [key, timestamps] of d.received) {
          let set = pairs.get(key);
          if (set === undefined) pairs.set(key, (set = new Set()));
          for (const t of timestamps) set.add(t);
        }
        for (const [tenant, s] of d.tenants) tenants.set(tenant, (tenants.get(tenant) ?? 0) + s.requests);
      }
      byHost.set(host, n);
      total += n;
    }
    let unique = 0;
    for (const set of pairs.values()) unique += set.size;
    return { unique, total, series: pairs.size, byHost, tenants };
  }

  async close(): Promise<void> {
    for (const d of this.running.values()) d.kill();
    this.running.clear();
    await this.dns.close();
  }

  private track(host: string, d: DemoDistributor): void {
    const latency = this.opts.latencyMs ?? 0;
    if (latency > 0) {
      const record = d.server.handler;
      d.server.handler = async (req, ctx) => {
        const result = await record(req, ctx);
        await new Promise((r) => setTimeout(r, latency));
        return result;
      };
    }
    this.running.set(host, d);
    let list = this.instances.get(host);
    if (list === undefined) this.instances.set(host, (list = []));
    list.push(d);
  }

  private publish(): void {
    this.dns.setRecords(
      CLUSTER_DNS_NAME,
      [...this.published].map((address) => ({ type: 'A' as const, address, ttl: this.opts.ttl ?? 1 })),
    );
  }
}
