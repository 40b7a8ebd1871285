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
  const servers: HttpGrpcServer[] = [];
  let port = 0;
  // The first server picks a free port; the others reuse it on their own address. A clash with an
  // unrelated listener on another address is possible but rare: retry with a fresh port.
  for (let attempt = 0; attempt < 5 && servers.length < hosts.length; attempt++) {
    await Promise.all(servers.splice(0).map((s) => s.kill()));
    try {
      const first = await HttpGrpcServer.start({ host: hosts[0]!, port: 0, handler });
      servers.push(first);
      port = first.port;
      for (const h of hosts.slice(1)) servers.push(await HttpGrpcServer.start({ host: h, port, handler }));
    } catch {
      continue;
    }
  }
  if (servers.length < hosts.length) throw new Error('could not bind distributors on one port');
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
