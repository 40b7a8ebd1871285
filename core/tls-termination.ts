// TLS in front of a node:http server, with Go's five client-certificate policies (crypto/tls
// ClientAuthType, as dskit's -server.http-tls-client-auth names them). Node's tls.Server knows two
// switches (requestCert, rejectUnauthorized) and rejects a bad client certificate silently, so the
// TLS sockets are made here, one per accepted connection:
//   - "require a certificate" is OpenSSL's SSL_VERIFY_FAIL_IF_NO_PEER_CERT (rejectUnauthorized on a
//     socket we build): a client without one is refused inside the handshake, with an alert
//     (certificate_required, RFC 8446 4.4.2.4), before any HTTP byte;
//   - "verify it" is checked when the handshake completes (Node defers verification to that point
//     for every TLS server): a certificate that fails is logged with the reason and the connection
//     closed before the HTTP server sees it.
// A verified socket is handed to the HTTP server as a connection, so keep-alive, header timeouts
// and graceful shutdown stay the HTTP server's. Certificates are swapped by replacing the secure
// context: new connections use it, open connections keep theirs.

import type { Server as HttpServer } from 'node:http';
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import { TLSSocket, type SecureContext } from 'node:tls';
import type { Logger } from 'pino';

export const CLIENT_AUTH_TYPES = ['NoClientCert', 'RequestClientCert', 'RequireAnyClientCert', 'VerifyClientCertIfGiven', 'RequireAndVerifyClientCert'] as const;
export type ClientAuthType = (typeof CLIENT_AUTH_TYPES)[number];

/** Go's semantics per type: ask for a certificate, refuse the handshake without one, verify one given. */
const POLICY: Record<ClientAuthType, { request: boolean; require: boolean; verify: boolean }> = {
  NoClientCert: { request: false, require: false, verify: false },
  RequestClientCert: { request: true, require: false, verify: false },
  RequireAnyClientCert: { request: true, require: true, verify: false },
  VerifyClientCertIfGiven: { request: true, require: false, verify: true },
  RequireAndVerifyClientCert: { request: true, require: true, verify: true },
};

export function clientAuthVerifies(t: ClientAuthType): boolean {
  return POLICY[t].verify;
}

export interface TlsTerminationOptions {
  readonly clientAuth: ClientAuthType;
  /** Offered in ALPN (RFC 7301), in order of preference. */
  readonly alpnProtocols: readonly string[];
  /** A handshake not finished by then is dropped (slowloris on the TLS layer). */
  readonly handshakeTimeoutMs: number;
  readonly logger: Logger;
  /** Which server this is, in log lines ("gateway HTTP", "control plane HTTP"). */
  readonly name: string;
}

/** Why a refusal happened, as an operator reads it; OpenSSL's codes stay in the line too. */
function explain(code: string | undefined, message: string): string {
  switch (code) {
    case 'CERT_HAS_EXPIRED':
      return 'the client certificate has expired';
    case 'CERT_NOT_YET_VALID':
      return 'the client certificate is not valid yet';
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
      return 'the client certificate is not signed by a CA in -server.http-tls-ca-path (wrong CA)';
    case 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE':
      return 'the client sent no certificate, and -server.http-tls-client-auth requires one';
    case 'ERR_SSL_NO_SHARED_CIPHER':
      return 'no cipher suite in common (-server.tls-cipher-suites)';
    case 'ERR_SSL_UNSUPPORTED_PROTOCOL':
    case 'ERR_SSL_WRONG_VERSION_NUMBER':
      return 'the client speaks a TLS version below -server.tls-min-version, or not TLS at all';
    case 'ERR_SSL_HTTP_REQUEST':
      return 'the client sent plain HTTP to the HTTPS port; use https://';
    default:
      return message;
  }
}

/**
 * OpenSSL's verdict on the client's chain. Node keeps it on the socket's handle and reads it the same
 * way in its own tls.Server (onServerSocketSecure); no public accessor exists for a socket built
 * here. Without the accessor nothing can be verified: refuse (fail closed).
 */
function verifyError(socket: TLSSocket): (Error & { code?: string }) | null {
  const handle = (socket as unknown as { _handle?: { verifyError?: () => (Error & { code?: string }) | null } })._handle;
  if (typeof handle?.verifyError !== 'function') return Object.assign(new Error('cannot read the verification result'), { code: 'VERIFY_UNAVAILABLE' });
  return handle.verifyError();
}

/** Refusal log lines per second, at most: a scanner must not turn the log into its amplifier. */
const LOG_PER_SECOND = 5;

export class TlsTermination {
  private context: SecureContext;
  private readonly policy: { request: boolean; require: boolean; verify: boolean };
  private logWindow = 0;
  private logged = 0;
  private suppressed = 0;

  constructor(
    context: SecureContext,
    private readonly opts: TlsTerminationOptions,
  ) {
    this.context = context;
    this.policy = POLICY[opts.clientAuth];
  }

  /** New certificates (or CA): connections accepted from now on use them; open ones are untouched. */
  setContext(context: SecureContext): void {
    this.context = context;
  }

  /** A TCP server that completes TLS and gives each accepted socket to `http` as a connection. */
  serve(http: HttpServer): NetServer {
    return createServer({ noDelay: true }, (raw) => this.accept(raw, http));
  }

  private accept(raw: Socket, http: HttpServer): void {
    const { request, require, verify } = this.policy;
    const socket = new TLSSocket(raw, {
      isServer: true,
      secureContext: this.context,
      requestCert: request,
      // On a socket (not a tls.Server) this only sets SSL_VERIFY_FAIL_IF_NO_PEER_CERT: nothing here
      // destroys a socket for a bad certificate except the check below.
      rejectUnauthorized: require,
      ALPNProtocols: [...this.opts.alpnProtocols],
    });
    const timer = setTimeout(() => socket.destroy(), this.opts.handshakeTimeoutMs);
    timer.unref();
    const onError = (err: NodeJS.ErrnoException): void => {
      clearTimeout(timer);
      // A client that goes away mid-handshake (ECONNRESET, EPIPE) was not refused: nothing to explain.
      if (err.code?.startsWith('ERR_SSL') || err.code?.startsWith('ERR_TLS')) this.refused(raw, explain(err.code, err.message), err.code);
      if (err.code === 'ERR_SSL_HTTP_REQUEST' && raw.writable) {
        // As Go's net/http answers plain HTTP on a TLS port: say what is wrong instead of a reset.
        socket.destroy();
        raw.end('HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\nClient sent an HTTP request to an HTTPS server: use https://\n');
        return;
      }
      socket.destroy();
    };
    socket.once('error', onError);
    socket.once('close', () => clearTimeout(timer));
    socket.once('secure', () => {
      clearTimeout(timer);
      socket.removeListener('error', onError);
      if (verify) {
        const err = verifyError(socket);
        const given = Object.keys(socket.getPeerCertificate()).length > 0;
        if (err && (given || require)) {
          this.refused(raw, explain(err.code, err.message), err.code, socket);
          socket.destroy();
          return;
        }
      }
      http.emit('connection', socket);
    });
  }

  private refused(raw: Socket, why: string, code: string | undefined, socket?: TLSSocket): void {
    const now = Date.now();
    if (now - this.logWindow >= 1000) {
      this.logWindow = now;
      this.logged = 0;
    }
    if (++this.logged > LOG_PER_SECOND) {
      this.suppressed++;
      return;
    }
    const peer = socket?.getPeerCertificate();
    const subject = peer && Object.keys(peer).length > 0 ? peer.subject?.CN : undefined;
    this.opts.logger.warn(
      {
        client: `${raw.remoteAddress ?? '?'}:${raw.remotePort ?? '?'}`,
        why,
        code,
        ...(subject !== undefined ? { certificate: subject, valid_to: peer?.valid_to } : {}),
        ...(this.suppressed > 0 ? { suppressed: this.suppressed } : {}),
      },
      `${this.opts.name}: TLS connection refused`,
    );
    this.suppressed = 0;
  }
}
