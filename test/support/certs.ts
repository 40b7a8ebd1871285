// Test certificates made with openssl at test time: certificate authorities and the certificates
// they sign (servers, clients), in a temp dir each.

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

export interface IssuedCert {
  readonly certPath: string;
  readonly keyPath: string;
}

export interface CertAuthority {
  readonly dir: string;
  readonly caPath: string;
  /** Signs a new key's certificate for these names (subjectAltName), valid one day (`days`: -1 makes one that expired yesterday). */
  issue(file: string, names: { readonly dns?: readonly string[]; readonly ips?: readonly string[] }, days?: number): IssuedCert;
  cleanup(): void;
}

const ssl = (...args: string[]): void => void execFileSync('openssl', args, { stdio: 'pipe' });

export function makeCertAuthority(name = 'metrics-gateway test CA'): CertAuthority {
  const dir = mkdtempSync(join(tmpdir(), 'mgw-certs-'));
  const p = (f: string): string => join(dir, f);
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', p('ca.key'), '-out', p('ca.pem'), '-days', '1', '-subj', `/CN=${name}`);
  let serial = 0;
  return {
    dir,
    caPath: p('ca.pem'),
    issue(file, names, days = 1) {
      const dns = names.dns ?? [];
      const ips = names.ips ?? [];
      const cn = dns[0] ?? ips[0] ?? file;
      ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', p(`${file}.key`), '-out', p(`${file}.csr`), '-subj', `/CN=${cn}`);
      const san = [...dns.map((d) => `DNS:${d}`), ...ips.map((i) => `IP:${i}`)].join(',');
      writeFileSync(p(`${file}.cnf`), san === '' ? '' : `subjectAltName=${san}\n`);
      ssl('x509', '-req', '-in', p(`${file}.csr`), '-CA', p('ca.pem'), '-CAkey', p('ca.key'), '-set_serial', String(++serial + Date.now()), '-out', p(`${file}.pem`), '-days', String(days), '-extfile', p(`${file}.cnf`));
      return { certPath: p(`${file}.pem`), keyPath: p(`${file}.key`) };
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** A CA and one server certificate it signs. */
export function makeCerts(serverNames: { dns: string[]; ips: string[] }): TestCerts {
  const ca = makeCertAuthority();
  const server = ca.issue('server', serverNames);
  return { dir: ca.dir, caPath: ca.caPath, certPath: server.certPath, keyPath: server.keyPath, cleanup: ca.cleanup };
}
