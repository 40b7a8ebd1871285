// The node:http2 client behind the ClientSession interface: kept for one release as
// -gateway.httpgrpc-client=node-http2, so the socket client can be compared (bench) and rolled back.
// Remove it (with unary-call.ts) once a release has run on the socket client without a report.
import http2, { type ClientHttp2Session } from 'node:http2';
import type { ClientSession, DialTarget, SessionEvents } from './client-session.js';
import { unaryCall, type CallOptions, type CallSession, type CallStatus } from './unary-call.js';

// Flow control (RFC 9113 6.9): the default 64 KiB windows stall a large response behind round trips
// of WINDOW_UPDATEs. Our receive windows are large from the start.
const STREAM_WINDOW_BYTES = 4 * 1024 * 1024;
const SESSION_WINDOW_BYTES = 32 * 1024 * 1024;

class NodeHttp2Session implements ClientSession, CallSession {
  goawayLastStreamId = Number.MAX_SAFE_INTEGER;

  constructor(readonly session: ClientHttp2Session) {}

  get maxConcurrentStreams(): number {
    return this.session.remoteSettings.maxConcurrentStreams ?? Infinity;
  }

  get closed(): boolean {
    return this.session.closed || this.session.destroyed;
  }

  get destroyed(): boolean {
    return this.session.destroyed;
  }

  call(opts: CallOptions, done: (s: CallStatus) => void): void {
    unaryCall(this, opts, done);
  }

  ping(onAck: () => void): boolean {
    return this.session.ping((err) => {
      if (err === null) onAck();
    });
  }

  close(): void {
    if (!this.session.closed && !this.session.destroyed) this.session.close();
  }

  destroy(reason?: string): void {
    this.session.destroy(reason === undefined ? undefined : new Error(reason));
  }
}

export function dialNodeHttp2(target: DialTarget, events: SessionEvents): ClientSession {
  const session = http2.connect(`${target.tls ? 'https' : 'http'}://${target.address}`, {
    ...target.tls,
    ...(target.tls ? { ALPNProtocols: ['h2'] } : {}),
    settings: { enablePush: false, initialWindowSize: STREAM_WINDOW_BYTES },
    // nghttp2's buffer budget for this session, in MB: room for a whole largest message.
    maxSessionMemory: Math.max(10, Math.ceil((2 * target.maxGrpcMessageBytes) / 1e6)),
  });
  const entry = new NodeHttp2Session(session);
  session.once('remoteSettings', () => {
    if (session.destroyed) return;
    session.setLocalWindowSize(SESSION_WINDOW_BYTES);
    events.ready();
  });
  session.on('goaway', (_code: number, lastStreamId: number) => {
    entry.goawayLastStreamId = Math.min(entry.goawayLastStreamId, lastStreamId);
    events.goaway(lastStreamId);
  });
  session.on('error', () => undefined); // 'close' follows; the calls on it report their own outcome
  session.on('close', () => events.close());
  return entry;
}
