// An HTTP/2 client connection for unary gRPC calls, on a socket we own (RFC 9113): preface and SETTINGS
// both ways (3.4, 6.5), streams started up to the peer's SETTINGS_MAX_CONCURRENT_STREAMS (5.1.2) and
// queued beyond it, flow control both ways (6.9), PING (6.7), GOAWAY (6.8), RST_STREAM (6.4).
// Frames are read by FrameReader, header blocks by one HpackDecoder (with CONTINUATION, 6.10), request
// headers written by one HpackEncoder; every write of one event-loop turn goes out in one WriteQueue
// flush. Connection errors (5.4.1) send GOAWAY and close; stream errors (5.4.2) send RST_STREAM. No
// input ends in an exception out of this class: anything thrown while reading closes the connection.
import type { Socket } from 'node:net';
import { GrpcStatus } from '../grpc-wire.js';
import type { CallOptions, CallStatus } from '../unary-call.js';
import type { ClientSession, DialTarget, SessionEvents } from '../client-session.js';
import { statusFromReset } from '../call-response.js';
import { ClientStream } from './client-stream.js';
import { FrameReader } from './frame-reader.js';
import { ConnectionError, H2Error, MAX_WINDOW, StreamError, goawayFrame, pingFrame, rstStreamFrame } from './frames.js';
import { handleFrame, type FrameContext, type PendingBlock } from './frame-handler.js';
import { HpackDecoder } from './hpack-decoder.js';
import { HpackEncoder } from './hpack-encoder.js';
import { StreamWriter, initialFrames } from './stream-writer.js';
import { WriteQueue } from './write-queue.js';
import { LOCAL } from './local-settings.js';

/** Socket errors worth naming (as grpc-js does): "read ECONNRESET"; a keepalive that went unanswered. */
const SOCKET_ERROR = /^((read|write) E[A-Z]+|keepalive ping not answered)$/;
/** RFC 9113 5.1.1: client stream ids are odd and never reused; at the top the connection is spent. */
const LAST_STREAM_ID = MAX_WINDOW;

const notSent = (details: string): CallStatus => ({ code: GrpcStatus.UNAVAILABLE, details, transport: 'not_sent' });

export class H2Connection implements ClientSession, FrameContext {
  readonly streams = new Map<number, ClientStream>();
  private readonly queued: ClientStream[] = [];
  nextStreamId = 1;
  readonly decoder = new HpackDecoder(LOCAL.headerTableSize, LOCAL.maxHeaderListSize);
  readonly writer: StreamWriter;
  readonly out: WriteQueue;
  private readonly reader: FrameReader;
  /** Peer settings (RFC 9113 6.5.2 defaults until its SETTINGS say otherwise). */
  maxConcurrentStreams = Infinity;
  gotSettings = false;
  pendingBlock: PendingBlock | undefined;
  goawayLastStreamId = LAST_STREAM_ID;
  private draining = false;
  destroyed = false;
  /** Our receive window on the connection, and what we have consumed but not yet handed back. */
  recvWindow = LOCAL.connectionWindow;
  unacked = 0;
  private readonly pings = new Map<number, () => void>();
  private pingSeq = 0;
  private socketError: string | undefined;
  private endReason: string | undefined;

  constructor(
    private readonly socket: Socket,
    private readonly target: DialTarget,
    private readonly events: SessionEvents,
  ) {
    this.out = new WriteQueue(socket, () => this.writer.flushWindowUpdates(this));
    this.writer = new StreamWriter(new HpackEncoder(), this.out, target.address);
    this.reader = new FrameReader(LOCAL.maxFrameSize, (type, flags, id, payload) => handleFrame(this, type, flags, id, payload));
    for (const f of initialFrames()) this.out.push(f);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      if (this.destroyed) return;
      try {
        this.reader.push(chunk);
      } catch (err) {
        this.onError(err);
      }
    });
    socket.on('error', (err: Error) => (this.socketError ??= err.message));
    socket.on('end', () => socket.destroy());
    socket.on('close', () => this.onClose());
  }

  get closed(): boolean {
    return this.draining || this.destroyed;
  }

  call(opts: CallOptions, done: (s: CallStatus) => void): void {
    if (this.closed) return done(notSent('connection closing before the stream was sent'));
    const s = new ClientStream(opts, done);
    const remaining = opts.deadline - Date.now();
    const started = Date.now();
    s.timer = setTimeout(() => {
      this.cancel(s, { code: GrpcStatus.DEADLINE_EXCEEDED, details: `Deadline exceeded after ${((Date.now() - started) / 1000).toFixed(3)}s` });
    }, Math.max(0, remaining));
    s.timer.unref();
    if (opts.signal) {
      s.onAbort = () => this.cancel(s, { code: GrpcStatus.CANCELLED, details: 'Cancelled on client' });
      opts.signal.onAbort = s.onAbort;
    }
    this.queued.push(s);
    this.startQueued();
  }

  /** Open queued streams while the peer's concurrency limit allows (RFC 9113 5.1.2). */
  startQueued(): void {
    while (this.gotSettings && !this.closed && this.queued.length > 0 && this.streams.size < this.maxConcurrentStreams) {
      const s = this.queued.shift()!;
      s.id = this.nextStreamId;
      this.nextStreamId += 2;
      s.phase = 'open';
      this.streams.set(s.id, s);
      this.writer.open(s);
      if (this.nextStreamId > LAST_STREAM_ID) this.startDraining(LAST_STREAM_ID);
    }
  }

  /** The client gave up on a call (deadline, cancel): RST_STREAM CANCEL if it was sent (RFC 9113 8.7). */
  private cancel(s: ClientStream, status: CallStatus): void {
    if (s.phase === 'open') this.out.push(rstStreamFrame(s.id, H2Error.CANCEL));
    this.finish(s, status);
  }

  /** A stream error (RFC 9113 5.4.2): reset it, the call fails with `status`. */
  resetStream(s: ClientStream, code: number, status: CallStatus): void {
    if (s.phase === 'open' && !this.destroyed) this.out.push(rstStreamFrame(s.id, code));
    this.finish(s, status);
  }

  finish(s: ClientStream, status: CallStatus): void {
    if (s.phase === 'closed') return;
    if (s.phase === 'queued') {
      const i = this.queued.indexOf(s);
      if (i >= 0) this.queued.splice(i, 1);
    } else {
      this.streams.delete(s.id);
      this.writer.forget(s);
    }
    s.phase = 'closed';
    clearTimeout(s.timer);
    if (s.onAbort !== undefined && s.opts.signal?.onAbort === s.onAbort) s.opts.signal.onAbort = undefined;
    s.done(status);
    if (!this.destroyed) {
      this.startQueued();
      if (this.draining && this.streams.size === 0) this.end();
    }
  }

  /** First SETTINGS from the server. */
  onReady(): void {
    this.events.ready();
    this.startQueued();
  }

  /**
   * RFC 9113 6.8: streams above last-stream-id were not processed and may be retried; the rest finish.
   * Queued calls never left this process.
   */
  onGoaway(lastStreamId: number): void {
    this.goawayLastStreamId = Math.min(this.goawayLastStreamId, lastStreamId);
    for (const s of [...this.streams.values()]) {
      if (s.id > this.goawayLastStreamId) this.finish(s, notSent('stream not processed (GOAWAY or session closed before it was sent)'));
    }
    this.startDraining(this.goawayLastStreamId);
  }

  private startDraining(lastStreamId: number): void {
    for (const s of this.queued.splice(0)) this.finishQueued(s, 'connection draining (GOAWAY) before the stream was sent');
    if (this.draining) return;
    this.draining = true;
    this.events.goaway(lastStreamId);
    if (this.streams.size === 0) this.end();
  }

  private finishQueued(s: ClientStream, why: string): void {
    this.finish(s, notSent(why));
  }

  /** RFC 9113 6.7: answer PINGs; resolve ours by the sequence number in their payload. */
  onPing(payload: Buffer, ack: boolean): void {
    if (!ack) return this.out.push(pingFrame(payload, true));
    const seq = payload.readUInt32BE(4);
    const cb = this.pings.get(seq);
    this.pings.delete(seq);
    cb?.();
  }

  ping(onAck: () => void): boolean {
    if (this.destroyed) return false;
    const seq = ++this.pingSeq >>> 0;
    const payload = Buffer.alloc(8);
    payload.writeUInt32BE(seq, 4);
    this.pings.set(seq, onAck);
    this.out.push(pingFrame(payload, false));
    return true;
  }

  close(): void {
    if (this.destroyed) return;
    if (!this.draining) {
      this.draining = true;
      for (const s of this.queued.splice(0)) this.finishQueued(s, 'connection closed before the stream was sent');
    }
    if (this.streams.size === 0) this.end();
  }

  /** Graceful end: GOAWAY NO_ERROR (RFC 9113 6.8, a client may send it too), then FIN. */
  private end(): void {
    if (this.destroyed) return;
    this.out.push(goawayFrame(H2Error.NO_ERROR, ''));
    this.out.flush();
    this.destroyed = true;
    this.socket.end();
  }

  destroy(reason?: string): void {
    if (reason !== undefined) this.endReason ??= reason;
    this.destroyed = true;
    this.socket.destroy();
  }

  /** Anything thrown while reading: a connection error, a stream error, or a bug (INTERNAL_ERROR). */
  private onError(err: unknown): void {
    if (err instanceof StreamError) {
      const s = this.streams.get(err.streamId);
      if (s !== undefined) this.resetStream(s, err.code, { code: GrpcStatus.INTERNAL, details: `HTTP/2 stream error: ${err.message}` });
      else this.out.push(rstStreamFrame(err.streamId, err.code));
      return;
    }
    const code = err instanceof ConnectionError ? err.code : H2Error.INTERNAL_ERROR;
    const why = err instanceof Error ? err.message : String(err);
    this.endReason ??= `HTTP/2 connection error ${code}: ${why}`;
    this.out.push(goawayFrame(code, why));
    this.out.flush();
    this.destroyed = true;
    this.socket.end();
    // Whatever the peer does next, the socket goes: end() waits for nothing but the write.
    setTimeout(() => this.socket.destroy(), 1_000).unref();
  }

  private onClose(): void {
    this.destroyed = true;
    const why = this.socketError !== undefined && SOCKET_ERROR.test(this.socketError) ? this.socketError : (this.endReason ?? 'Connection dropped');
    const lost: CallStatus = { code: GrpcStatus.UNAVAILABLE, details: why, transport: 'lost' };
    for (const s of [...this.queued]) this.finish(s, notSent(`connection closed before the stream was sent (${why})`));
    for (const s of [...this.streams.values()]) {
      const status = s.response.outcome();
      this.finish(s, status ?? lost);
    }
    this.pings.clear();
    this.events.close();
  }

  /** RST_STREAM from the peer (RFC 9113 6.4; 8.7: REFUSED_STREAM means not processed). */
  onReset(s: ClientStream, code: number): void {
    if (code === H2Error.REFUSED_STREAM && !s.sawHeaders) return this.finish(s, notSent('Stream refused by server'));
    const decided = s.response.outcome();
    if (decided !== undefined) return this.finish(s, decided);
    if (code === H2Error.NO_ERROR) return this.finish(s, { code: GrpcStatus.UNAVAILABLE, details: 'Connection dropped', transport: 'lost' });
    this.finish(s, statusFromReset(code));
  }
}
