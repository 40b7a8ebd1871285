// HTTPS between control-plane replicas (-control-plane.peers) when their HTTP port serves TLS
// (-server.http-tls-*): a replica asks its peers with its own serving certificate as the client
// certificate (so a peer requiring client certificates accepts it) and checks the peer's certificate
// against -server.http-tls-ca-path (the system's CAs when unset) for the peers' DNS name, the
// headless Service name every replica's certificate carries. Rebuilt when the files change.

import { Agent, type Dispatcher } from 'undici';
import type { PeerTls } from '../control-plane/fleet/peer-client.js';
import type { TlsFileSource, TlsMaterial } from './tls-files.js';

export function peerTls(source: TlsFileSource, serverName: string): PeerTls {
  const agentOf = (m: TlsMaterial): Agent =>
    new Agent({
      connect: {
        servername: serverName,
        ...(m.ca.fromSystem ? {} : { ca: m.ca.certificates }),
        ...(m.identity ? { cert: m.identity.certificate, key: m.identity.privateKey } : {}),
      },
    });
  let agent = agentOf(source.current);
  source.onReload((m) => {
    const old = agent;
    agent = agentOf(m);
    void old.close();
  });
  return { dispatcher: (): Dispatcher => agent };
}
