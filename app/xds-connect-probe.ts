// Why a gateway cannot connect to its control plane, in words an operator can act on. grpc-js often
// reports a refused TLS handshake as "Failed to connect" (a client certificate from another CA, or
// TLS on one side only, say nothing more), so after a failed attempt the gateway makes one TLS
// handshake of its own with the same certificates and names the flag to change.

import { connect, checkServerIdentity, type PeerCertificate, type TLSSocket } from 'node:tls';
import { isIP } from 'node:net';
import type { TlsMaterial } from './tls-files.js';

export interface ProbeSettings {
  /** undefined: the gateway connects in plain text. */
  readonly tls: { readonly material: TlsMaterial; readonly serverName: string; readonly caPath: string } | undefined;
  readonly timeoutMs?: number;
}

/** TLS alerts and verification errors → the fix, or undefined when TLS is not the problem. */
export function explainTlsFailure(error: string, ctx: { readonly serverName: string; readonly caPath: string; readonly hasCertificate: boolean }): string | undefined {
  const ca = ctx.caPath === '' ? "the system's CAs" : `-gateway.xds.tls-ca-path (${ctx.caPath})`;
  if (/alert certificate required|peer did not return a certificate/i.test(error)) {
    return 'the control plane requires a client certificate: set -gateway.xds.tls-cert-path and -gateway.xds.tls-key-path to one signed by the CA in its -server.grpc-tls-ca-path';
  }
  if (/alert (unknown ca|bad certificate|unsupported certificate|certificate unknown|decrypt error)/i.test(error)) {
    const alert = /alert ([a-z ]+?)(?::|$)/i.exec(error)?.[1] ?? 'bad certificate';
    return ctx.hasCertificate
      ? `the control plane refused this gateway's client certificate (TLS alert "${alert}"): it must be signed by the CA in the control plane's -server.grpc-tls-ca-path`
      : `the control plane refused the TLS handshake (TLS alert "${alert}")`;
  }
  if (/alert certificate expired/i.test(error)) return "the control plane refused this gateway's client certificate: it has expired; renew -gateway.xds.tls-cert-path";
  if (/self[- ]signed certificate|unable to (get local issuer|verify the first) certificate|certificate signature failure/i.test(error)) {
    return `the control plane's certificate is not signed by a CA in ${ca}: point -gateway.xds.tls-ca-path at the CA that signed -server.grpc-tls-cert-path`;
  }
  if (/certificate has expired/i.test(error)) return "the control plane's certificate has expired: renew -server.grpc-tls-cert-path there";
  if (/ERR_TLS_CERT_ALTNAME_INVALID|does not match certificate's altnames/i.test(error)) {
    const names = /altnames: (.*)$/.exec(error)?.[1]?.trim() ?? '';
    return `the control plane's certificate is not valid for "${ctx.serverName}"${names ? ` (${names})` : ''}: set -gateway.xds.tls-server-name to a name it holds`;
  }
  if (/wrong version number|packet length too long|unknown protocol|socket disconnected before secure TLS connection/i.test(error)) {
    return 'the control plane does not speak TLS: set -server.grpc-tls-cert-path and -server.grpc-tls-key-path there, or -gateway.xds.tls-enabled=false here';
  }
  return undefined;
}

function hostPort(server: string): { host: string; port: number } | undefined {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(server);
  return m ? { host: m[1]!, port: Number(m[2]) } : undefined;
}

/** One TLS handshake to `server` with the gateway's settings; resolves to an explanation or undefined. */
export function probeXdsConnection(server: string, settings: ProbeSettings): Promise<string | undefined> {
  const target = hostPort(server);
  if (!target) return Promise.resolve(undefined);
  const tls = settings.tls;
  const serverName = tls?.serverName || target.host;
  return new Promise((resolve) => {
    let settled = false;
    let socket: TLSSocket | undefined;
    let handshakeDone = false;
    const finish = (why: string | undefined): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket?.destroy();
      resolve(why);
    };
    const timer = setTimeout(() => finish(undefined), settings.timeoutMs ?? 3000);
    timer.unref();
    socket = connect({
      host: target.host,
      port: target.port,
      ALPNProtocols: ['h2'],
      ...(isIP(serverName) ? {} : { servername: serverName }),
      // Plain-text gateway: only "does the server speak TLS at all?", so accept any certificate.
      rejectUnauthorized: tls !== undefined,
      ...(tls
        ? {
            ca: tls.material.ca.certificates,
            ...(tls.material.identity ? { cert: tls.material.identity.certificate, key: tls.material.identity.privateKey } : {}),
            checkServerIdentity: (_host: string, cert: PeerCertificate) => checkServerIdentity(serverName, cert),
          }
        : {}),
    });
    socket.on('secureConnect', () => {
      if (!tls) {
        finish('the control plane serves TLS: set -gateway.xds.tls-enabled=true and -gateway.xds.tls-ca-path (and -gateway.xds.tls-cert-path/-key-path if it asks for client certificates)');
        return;
      }
      // With TLS 1.3 the server judges the client certificate after the client's handshake is done:
      // its verdict is an alert, or (Node's server) a connection closed without a word. An HTTP/2
      // server that accepted us sends its SETTINGS frame first thing.
      handshakeDone = true;
      socket?.write('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
    });
    socket.on('data', () => finish(undefined));
    socket.on('error', (err: Error & { code?: string }) => {
      const message = `${err.code ?? ''} ${err.message}`;
      finish(tls ? explainTlsFailure(message, { serverName, caPath: tls.caPath, hasCertificate: tls.material.identity !== null }) : undefined);
    });
    socket.on('close', () =>
      finish(
        handshakeDone && tls
          ? tls.material.identity
            ? "the control plane closed the connection right after the TLS handshake: it does not accept this gateway's client certificate (-gateway.xds.tls-cert-path); it must be signed by the CA in the control plane's -server.grpc-tls-ca-path"
            : 'the control plane closed the connection right after the TLS handshake: it probably requires a client certificate (-gateway.xds.tls-cert-path, -gateway.xds.tls-key-path)'
          : undefined,
      ),
    );
  });
}
