// The TLS layer of the HTTP port on its own (core/tls-termination.ts), against real TLS clients:
// Go's five client auth types, each tried with no certificate, a good one, one from another CA and an
// expired one, must accept and refuse exactly as Go's crypto/tls does; a refused connection never
// reaches the HTTP server, and the log says why (expired, wrong CA, none).

import { execFile } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLIENT_AUTH_TYPES, TlsTermination, type ClientAuthType } from '../core/tls-termination.js';
import { makeCertAuthority, type CertAuthority, type IssuedCert } from './support/certs.js';
import { cleanupsAfterEach } from './support/cleanups.js';

type Client = 'none' | 'good' | 'wrong-ca' | 'expired';

// Go's crypto/tls (handshake_server.go processCertsFromClient): which client is let through.
const GO: Record<ClientAuthType, Record<Client, boolean>> = {
  NoClientCert: { none: true, good: true, 'wrong-ca': true, expired: true },
  RequestClientCert: { none: true, good: true, 'wrong-ca': true, expired: true },
  RequireAnyClientCert: { none: false, good: true, 'wrong-ca': true, expired: true },
  VerifyClientCertIfGiven: { none: true, good: true, 'wrong-ca': false, expired: false },
  RequireAndVerifyClientCert: { none: false, good: true, 'wrong-ca': false, expired: false },
};

const cleanups = cleanupsAfterEach();
let ca: CertAuthority;
let other: CertAuthority;
let server: IssuedCert;
const clients = new Map<Client, IssuedCert | undefined>();

beforeAll(() => {
  ca = makeCertAuthority('front door CA');
  other = makeCertAuthority('some other CA');
  server = ca.issue('server', { ips: ['127.0.0.1'] });
  clients.set('none', undefined);
  clients.set('good', ca.issue('client', { dns: ['prometheus'] }));
  clients.set('wrong-ca', other.issue('stranger', { dns: ['stranger'] }));
  clients.set('expired', ca.issue('expired', { dns: ['old-client'] }, -1));
});
afterAll(() => {
  ca.cleanup();
  other.cleanup();
});

async function serve(clientAuth: ClientAuthType): Promise<{ port: number; requests: () => number; logs: string[] }> {
  const logs: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(line) });
  const context = createSecureContext({ cert: readFileSync(server.certPath), key: readFileSync(server.keyPath), ca: readFileSync(ca.caPath) });
  const tls = new TlsTermination(context, { clientAuth, alpnProtocols: ['http/1.1'], handshakeTimeoutMs: 5000, logger, name: 'test HTTP' });
  let requests = 0;
  const httpServer = http.createServer((_req, res) => {
    requests++;
    res.end('ok');
  });
  const listener = tls.serve(httpServer);
  listener.listen(0, '127.0.0.1');
  await once(listener, 'listening');
  cleanups.push(async () => {
    const closed = once(listener, 'close');
    listener.close();
    httpServer.closeAllConnections();
    await closed;
  });
  return { port: (listener.address() as AddressInfo).port, requests: () => requests, logs };
}

/** One GET over a new connection; the status, or the client-side error. */
function get(port: number, cert: IssuedCert | undefined): Promise<{ status?: number; error?: string }> {
  return new Promise((resolve) => {
    const req = https.get(
      {
        host: '127.0.0.1',
        port,
        path: '/',
        agent: false,
        ca: readFileSync(ca.caPath),
        ...(cert ? { cert: readFileSync(cert.certPath), key: readFileSync(cert.keyPath) } : {}),
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode }));
      },
    );
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
  });
}

describe("Go's client auth types on the HTTPS port", () => {
  for (const type of CLIENT_AUTH_TYPES) {
    it(`${type}: lets through exactly what Go lets through`, async () => {
      const s = await serve(type);
      const seen: Record<string, string> = {};
      for (const [name, cert] of clients) {
        const r = await get(s.port, cert);
        seen[name] = r.status !== undefined ? `HTTP ${r.status}` : `refused (${r.error})`;
      }
      const want = Object.fromEntries([...clients.keys()].map((c) => [c, GO[type][c] ? 'HTTP 200' : 'refused']));
      const got = Object.fromEntries(Object.entries(seen).map(([k, v]) => [k, v.startsWith('refused') ? 'refused' : v]));
      expect(got, JSON.stringify(seen)).toEqual(want);
      // Refused connections never reached the HTTP server.
      expect(s.requests()).toBe(Object.values(GO[type]).filter(Boolean).length);
    });
  }

  it('explains every refusal in the log: expired certificate, wrong CA, no client certificate', async () => {
    const s = await serve('RequireAndVerifyClientCert');
    for (const c of ['expired', 'wrong-ca', 'none'] as const) await get(s.port, clients.get(c));
    const lines = s.logs.map((l) => JSON.parse(l) as { msg: string; why: string; code?: string; certificate?: string });
    const refusals = lines.filter((l) => l.msg === 'test HTTP: TLS connection refused');
    expect(refusals.map((l) => l.why)).toEqual([
      'the client certificate has expired',
      'the client certificate is not signed by a CA in -server.http-tls-ca-path (wrong CA)',
      'the client sent no certificate, and -server.http-tls-client-auth requires one',
    ]);
    expect(refusals.map((l) => l.code)).toEqual(['CERT_HAS_EXPIRED', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE']);
    expect(refusals[0]!.certificate).toBe('old-client');
  });

  it('answers plain HTTP on the HTTPS port with a 400 saying so, as Go does, and logs it', async () => {
    const s = await serve('NoClientCert');
    const r = await new Promise<{ status?: number; body: string }>((resolve) => {
      http
        .get({ host: '127.0.0.1', port: s.port, path: '/', agent: false }, (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode, body }));
        })
        .on('error', (err) => resolve({ body: err.message }));
    });
    expect(r).toEqual({ status: 400, body: 'Client sent an HTTP request to an HTTPS server: use https://\n' });
    expect(s.requests()).toBe(0);
    expect(s.logs.map((l) => (JSON.parse(l) as { why: string }).why)).toEqual(['the client sent plain HTTP to the HTTPS port; use https://']);
  });

  it('refuses curl without a client certificate inside the TLS handshake (TLS 1.2 and 1.3), before any HTTP', async () => {
    const s = await serve('RequireAndVerifyClientCert');
    const curl = (args: string[]): Promise<{ code: number; err: string }> =>
      new Promise((resolve) =>
        execFile('curl', ['-sS', '--cacert', ca.caPath, ...args, `https://127.0.0.1:${s.port}/`], { timeout: 20_000 }, (error, _out, err) =>
          resolve({ code: typeof error?.code === 'number' ? error.code : error ? -1 : 0, err }),
        ),
      );
    const tls12 = await curl(['--tlsv1.2', '--tls-max', '1.2']);
    // 35: CURLE_SSL_CONNECT_ERROR, the handshake itself failed (the server's handshake_failure alert).
    expect(tls12.code, tls12.err).toBe(35);
    expect(tls12.err).toMatch(/alert/i);
    const tls13 = await curl(['--tlsv1.3']);
    // TLS 1.3: the client's Finished precedes the server's check of its (empty) Certificate, so curl
    // reads the certificate_required alert (RFC 8446 4.4.2.4) as its first record: 56 or 35.
    expect([35, 56], tls13.err).toContain(tls13.code);
    expect(tls13.err).toMatch(/certificate required/i);
    const good = clients.get('good')!;
    const ok = await curl(['--cert', good.certPath, '--key', good.keyPath]);
    expect(ok.code, ok.err).toBe(0);
    expect(s.requests()).toBe(1);
  });
});
