// Certificate, key and CA files for the xDS channel and the HTTPS port, re-read while the process runs. Kubernetes
// rotates a mounted Secret in place (an atomic swap of the directory the files link into), so the
// files are polled: a new pair is checked (it parses, the key belongs to the certificate, it has
// not expired) before it is handed on, and a bad or half-written pair keeps the last good one.
// Implements grpc-js's CertificateProvider, so grpc-js applies each update to new TLS connections
// (server: setSecureContext; channel: the next connect) and streams that are up are never touched.

import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext, rootCertificates } from 'node:tls';
import type { experimental } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { GatewayError } from '../core/errors.js';

type CertificateProvider = experimental.CertificateProvider;
type CaListener = experimental.CaCertificateUpdateListener;
type IdentityListener = experimental.IdentityCertificateUpdateListener;

/** Kubernetes updates mounted Secrets about once a minute; a few seconds more is nothing. */
export const TLS_RELOAD_PERIOD_MS = 5000;

export interface TlsFilePaths {
  readonly certPath: string;
  readonly keyPath: string;
  /** Empty: the system's root CAs (client) or no CA at all (server). */
  readonly caPath: string;
}

/** The flags each path came from, so every message names what to change. */
export interface TlsFlagNames {
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
}

export interface TlsMaterial {
  readonly identity: { readonly certificate: Buffer; readonly privateKey: Buffer; readonly subject: string; readonly validTo: string } | null;
  readonly ca: { readonly certificates: Buffer; readonly fromSystem: boolean };
}

function read(path: string, flag: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : code;
    throw new GatewayError('TLS_FILE', `-${flag}: ${path}: cannot read: ${why}`);
  }
}

function firstCertificate(pem: Buffer, path: string, flag: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch {
    throw new GatewayError('TLS_FILE', `-${flag}: ${path}: does not hold a PEM certificate ("-----BEGIN CERTIFICATE-----")`);
  }
}

/** Reads and checks the files once. Throws GatewayError naming the flag, the file and the fix. */
export function loadTlsMaterial(paths: TlsFilePaths, flags: TlsFlagNames, now = Date.now()): TlsMaterial {
  let identity: TlsMaterial['identity'] = null;
  if (paths.certPath !== '' || paths.keyPath !== '') {
    if (paths.certPath === '' || paths.keyPath === '') {
      const missing = paths.certPath === '' ? flags.cert : flags.key;
      throw new GatewayError('TLS_FILE', `-${missing} is not set: a certificate and its private key go together (-${flags.cert}, -${flags.key})`);
    }
    const certificate = read(paths.certPath, flags.cert);
    const privateKey = read(paths.keyPath, flags.key);
    const x509 = firstCertificate(certificate, paths.certPath, flags.cert);
    try {
      createSecureContext({ cert: certificate, key: privateKey });
    } catch (err) {
      const msg = (err as Error).message;
      const why = /key values mismatch/.test(msg)
        ? `is not the private key of the certificate in ${paths.certPath} (-${flags.cert})`
        : `is not a usable PEM private key (${msg})`;
      throw new GatewayError('TLS_FILE', `-${flags.key}: ${paths.keyPath}: ${why}`);
    }
    const notAfter = Date.parse(x509.validTo);
    if (notAfter < now) throw new GatewayError('TLS_FILE', `-${flags.cert}: ${paths.certPath}: the certificate expired on ${x509.validTo}; renew it`);
    identity = { certificate, privateKey, subject: x509.subject.replaceAll('\n', ', '), validTo: x509.validTo };
  }
  if (paths.caPath === '') return { identity, ca: { certificates: Buffer.from(rootCertificates.join('\n')), fromSystem: true } };
  const ca = read(paths.caPath, flags.ca);
  firstCertificate(ca, paths.caPath, flags.ca);
  try {
    createSecureContext({ ca });
  } catch (err) {
    throw new GatewayError('TLS_FILE', `-${flags.ca}: ${paths.caPath}: not usable as CA certificates (${(err as Error).message})`);
  }
  return { identity, ca: { certificates: ca, fromSystem: false } };
}

export interface TlsFileSourceOptions {
  readonly paths: TlsFilePaths;
  readonly flags: TlsFlagNames;
  readonly logger: Logger;
  readonly reloadPeriodMs?: number;
}

export class TlsFileSource implements CertificateProvider {
  private material: TlsMaterial;
  private hash: string;
  private timer: NodeJS.Timeout | undefined;
  /** Why the files last seen could not be used (the previous ones stay); undefined once they can. */
  private reloadError: string | undefined;
  private readonly caListeners = new Set<CaListener>();
  private readonly identityListeners = new Set<IdentityListener>();
  private readonly reloadListeners = new Set<(m: TlsMaterial) => void>();

  /** Loads the files at once: a bad file fails start-up (and the config check) with its reason. */
  constructor(private readonly opts: TlsFileSourceOptions) {
    this.material = loadTlsMaterial(opts.paths, opts.flags);
    this.hash = this.filesHash();
  }

  get current(): TlsMaterial {
    return this.material;
  }

  get lastReloadError(): string | undefined {
    return this.reloadError;
  }

  /** Starts polling the files for changes. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.poll(), this.opts.reloadPeriodMs ?? TLS_RELOAD_PERIOD_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Called with the new files after each good reload (a TLS server swaps its secure context). */
  onReload(listener: (material: TlsMaterial) => void): void {
    this.reloadListeners.add(listener);
  }

  addCaCertificateListener(listener: CaListener): void {
    this.caListeners.add(listener);
    // grpc-js expects the current value asynchronously, as its own FileWatcherCertificateProvider does.
    process.nextTick(listener, { caCertificate: this.material.ca.certificates });
  }

  removeCaCertificateListener(listener: CaListener): void {
    this.caListeners.delete(listener);
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.add(listener);
    process.nextTick(listener, this.identityUpdate());
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.delete(listener);
  }

  private identityUpdate(): experimental.IdentityCertificateUpdate | null {
    const id = this.material.identity;
    return id ? { certificate: id.certificate, privateKey: id.privateKey } : null;
  }

  /** Content hash of the three files; unreadable files hash as their error, so a fix is noticed. */
  private filesHash(): string {
    const h = createHash('sha256');
    for (const p of [this.opts.paths.certPath, this.opts.paths.keyPath, this.opts.paths.caPath]) {
      if (p === '') continue;
      try {
        h.update(readFileSync(p));
      } catch (err) {
        h.update(`error:${(err as NodeJS.ErrnoException).code ?? ''}`);
      }
      h.update('\0');
    }
    return h.digest('hex');
  }

  private poll(): void {
    const hash = this.filesHash();
    if (hash === this.hash) return;
    this.hash = hash;
    let next: TlsMaterial;
    try {
      next = loadTlsMaterial(this.opts.paths, this.opts.flags);
    } catch (err) {
      // A rotation caught between two writes (new certificate, old key) ends up here too; the next
      // poll sees the finished pair.
      this.reloadError = (err as Error).message;
      this.opts.logger.warn({ error: (err as Error).message }, 'TLS files changed but cannot be used; keeping the previous certificates');
      return;
    }
    this.material = next;
    this.reloadError = undefined;
    this.opts.logger.info(
      { cert: this.opts.paths.certPath, subject: next.identity?.subject, validTo: next.identity?.validTo, ca: this.opts.paths.caPath || 'system' },
      'TLS certificates reloaded; new connections use them, open streams stay up',
    );
    for (const l of this.reloadListeners) l(next);
    for (const l of this.caListeners) l({ caCertificate: next.ca.certificates });
    const identity = this.identityUpdate();
    for (const l of this.identityListeners) l(identity);
  }
}
