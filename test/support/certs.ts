// Test certificates made with openssl at test time: a CA and a server certificate it signs.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCerts {
  readonly dir: string;
  readonly caPath: string;
  readonly certPath: string;
  readonly keyPath: string;
  cleanup(): void;
}

export function makeCerts(serverNames: { dns: string[]; ips: string[] }): TestCerts {
  const dir = mkdtempSync(join(tmpdir(), 'mgw-certs-'));
  const p = (f: string): string => join(dir, f);
  const ssl = (...args: string[]): void => void execFileSync('openssl', args, { stdio: 'pipe' });
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', p('ca.key'), '-out', p('ca.pem'), '-days', '1', '-subj', '/CN=metrics-gateway test CA');
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', p('server.key'), '-out', p('server.csr'), '-subj', `/CN=${serverNames.dns[0] ?? 'server'}`);
  const san = [...serverNames.dns.map((d) => `DNS:${d}`), ...serverNames.ips.map((i) => `IP:${i}`)].join(',');
  writeFileSync(p('ext.cnf'), `subjectAltName=${san}\n`);
  ssl('x509', '-req', '-in', p('server.csr'), '-CA', p('ca.pem'), '-CAkey', p('ca.key'), '-CAcreateserial', '-out', p('server.pem'), '-days', '1', '-extfile', p('ext.cnf'));
  return {
    dir,
    caPath: p('ca.pem'),
    certPath: p('server.pem'),
    keyPath: p('server.key'),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
