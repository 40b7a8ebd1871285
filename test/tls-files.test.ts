// The xDS certificate files: checked when loaded (each problem names the flag, the file and the fix)
// and re-read while running, where a bad or half-written pair keeps the last good one.

import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { loadTlsMaterial, TlsFileSource } from '../app/tls-files.js';
import { GatewayError } from '../core/errors.js';
import { makeCertAuthority } from './support/certs.js';
import { eventually } from './support/poll.js';

const FLAGS = { cert: 'server.grpc-tls-cert-path', key: 'server.grpc-tls-key-path', ca: 'server.grpc-tls-ca-path' };

describe('TLS files for the xDS channel', () => {
  const ca = makeCertAuthority();
  const a = ca.issue('a', { dns: ['a.test'] });
  const b = ca.issue('b', { dns: ['b.test'] });
  const dir = mkdtempSync(join(tmpdir(), 'mgw-tls-files-'));
  afterAll(() => {
    ca.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  const problem = (paths: { certPath?: string; keyPath?: string; caPath?: string }): string => {
    try {
      loadTlsMaterial({ certPath: '', keyPath: '', caPath: '', ...paths }, FLAGS);
    } catch (err) {
      expect(err).toBeInstanceOf(GatewayError);
      expect((err as GatewayError).code).toBe('GW_ERR_TLS_FILE');
      return (err as Error).message;
    }
    throw new Error('loaded');
  };

  it('names the flag, the file and the fix for each unusable file', () => {
    const missing = join(dir, 'nope.pem');
    expect(problem({ certPath: missing, keyPath: a.keyPath })).toBe(`-server.grpc-tls-cert-path: ${missing}: cannot read: no such file`);
    expect(problem({ certPath: a.certPath })).toBe(
      '-server.grpc-tls-key-path is not set: a certificate and its private key go together (-server.grpc-tls-cert-path, -server.grpc-tls-key-path)',
    );
    expect(problem({ certPath: a.keyPath, keyPath: a.keyPath })).toBe(`-server.grpc-tls-cert-path: ${a.keyPath}: does not hold a PEM certificate ("-----BEGIN CERTIFICATE-----")`);
    expect(problem({ certPath: a.certPath, keyPath: b.keyPath })).toBe(
      `-server.grpc-tls-key-path: ${b.keyPath}: is not the private key of the certificate in ${a.certPath} (-server.grpc-tls-cert-path)`,
    );
    expect(problem({ caPath: a.keyPath })).toBe(`-server.grpc-tls-ca-path: ${a.keyPath}: does not hold a PEM certificate ("-----BEGIN CERTIFICATE-----")`);
    const loaded = loadTlsMaterial({ certPath: a.certPath, keyPath: a.keyPath, caPath: ca.caPath }, FLAGS);
    expect(loaded.identity?.subject).toBe('CN=a.test');
    expect(loaded.ca.fromSystem).toBe(false);
  });

  it('re-reads changed files, and keeps the last good pair while the new one cannot be used', async () => {
    const cert = join(dir, 'tls.crt');
    const key = join(dir, 'tls.key');
    copyFileSync(a.certPath, cert);
    copyFileSync(a.keyPath, key);
    const source = new TlsFileSource({ paths: { certPath: cert, keyPath: key, caPath: ca.caPath }, flags: FLAGS, logger: pino({ level: 'silent' }), reloadPeriodMs: 20 });
    const seen: string[] = [];
    source.addIdentityCertificateListener((u) => seen.push(u ? u.certificate.toString() : 'null'));
    source.start();
    try {
      // Half a rotation: the new certificate is there, its key is not yet.
      copyFileSync(b.certPath, cert);
      const why = await eventually(() => source.lastReloadError, 'the mismatched pair to be noticed', 10_000);
      expect(why).toBe(`-server.grpc-tls-key-path: ${key}: is not the private key of the certificate in ${cert} (-server.grpc-tls-cert-path)`);
      expect(source.current.identity?.subject).toBe('CN=a.test');
      // The key arrives: the pair is handed on.
      copyFileSync(b.keyPath, key);
      await eventually(() => source.current.identity?.subject === 'CN=b.test', 'the finished pair to be used', 10_000);
      expect(source.lastReloadError).toBeUndefined();
      await eventually(() => seen.length === 2, 'the listener to get the initial and the new certificate', 10_000);
      expect(seen.every((s) => s.startsWith('-----BEGIN CERTIFICATE-----'))).toBe(true);
      // A file replaced by garbage keeps the good pair too.
      writeFileSync(cert, 'not a certificate');
      await eventually(() => source.lastReloadError?.includes('does not hold a PEM certificate'), 'the garbage to be noticed', 10_000);
      expect(source.current.identity?.subject).toBe('CN=b.test');
      expect(seen.length).toBe(2);
    } finally {
      source.stop();
    }
  });
});
