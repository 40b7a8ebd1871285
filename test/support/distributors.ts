// A small "cluster" on loopback: httpgrpc servers sharing one port on 127.0.0.2, .3, ... (distinct
// hosts on Linux) behind a real DNS server, as a headless Kubernetes Service would present them.

import { DnsServer } from '../../examples/local/dns-server.js';
import { HttpGrpcServer, type HttpGrpcHandler } from '../../examples/local/httpgrpc-server.js';

export const DNS_NAME = 'distributor.test';

export interface Distributors {
  readonly dns: DnsServer;
  readonly servers: HttpGrpcServer[];
  readonly port: number;
  /** dns://<dns server>/distributor.test:<port> */
  readonly url: string;
  /** Starts another server on 127.0.0.<n> (same port) and optionally publishes its record. */
  add(host: string, publish?: boolean): Promise<HttpGrpcServer>;
  publish(hosts: readonly string[]): void;
  close(): Promise<void>;
}

export async function startDistributors(hosts: readonly string[], handler?: HttpGrpcHandler, ttl = 1): Promise<Distributors> {
  const dns = await DnsServer.start({ host: '127.0.0.1', port: 0 });
  const { servers, port } = await onSharedPort(hosts, (host, p) => HttpGrpcServer.start({ host, port: p, handler }), (s) => s.port, (s) => s.kill());
  const publish = (list: readonly string[]): void => dns.setRecords(DNS_NAME, list.map((address) => ({ type: 'A' as const, address, ttl })));
  publish(hosts);
  return {
    dns,
    servers,
    port,
    url: `dns://${dns.authority}/${DNS_NAME}:${port}`,
    async add(host: string, pub = true) {
      const s = await HttpGrpcServer.start({ host, port, handler });
      servers.push(s);
      if (pub) publish(servers.map((x) => x.host));
      return s;
    },
    publish,
    async close() {
      await Promise.all(servers.map((s) => s.kill()));
      await dns.close();
    },
  };
}

/**
 * One server per host, all on one port (as pods behind a headless Service): the first picks a free
 * port, the others bind it on their own address. A clash with an unrelated listener on another
 * address is possible but rare: then all are stopped and a fresh port is tried.
 */
export async function onSharedPort<T>(
  hosts: readonly string[],
  start: (host: string, port: number) => Promise<T>,
  portOf: (server: T) => number,
  stop: (server: T) => unknown,
): Promise<{ servers: T[]; port: number }> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const first = await start(hosts[0]!, 0);
    const servers = [first];
    try {
      for (const h of hosts.slice(1)) servers.push(await start(h, portOf(first)));
      return { servers, port: portOf(first) };
    } catch {
      for (const server of servers) stop(server);
    }
  }
  throw new Error(`could not bind servers on ${hosts.join(', ')} with one port`);
}
