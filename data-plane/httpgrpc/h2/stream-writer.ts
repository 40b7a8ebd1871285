// The sending side of an H2Connection: a call's HEADERS (+ CONTINUATION) and DATA within the peer's
// flow-control windows (RFC 9113 6.9), and the WINDOW_UPDATEs that hand back what we received,
// batched: one per stream and one for the connection per flush, and only once a quarter of the window
// is used (Go's transport waits for half; a quarter keeps large responses streaming on slow peers).
import type { OutgoingHttpHeaders } from 'node:http2';
import type { ClientStream } from './client-stream.js';
import { CLIENT_PREFACE, DEFAULT_WINDOW, FRAME_HEADER_BYTES, Flag, FrameType, MIN_MAX_FRAME_SIZE, headerFrames, settingsFrame, windowUpdateFrame, writeFrameHeader } from './frames.js';
import type { HpackEncoder } from './hpack-encoder.js';
import { CONNECTION_WINDOW_GROWTH, LOCAL, LOCAL_SETTINGS } from './local-settings.js';
import type { WriteQueue } from './write-queue.js';

const STREAM_UPDATE_AT = LOCAL.streamWindow / 4;
const CONNECTION_UPDATE_AT = LOCAL.connectionWindow / 4;

/** RFC 9113 3.4: preface, our SETTINGS, then the connection window widened (6.9.2). */
export function initialFrames(): Buffer[] {
  return [CLIENT_PREFACE, settingsFrame(LOCAL_SETTINGS), windowUpdateFrame(0, CONNECTION_WINDOW_GROWTH)];
}

/** What the writer reads and updates on the connection. */
export interface ReceiveWindow {
  recvWindow: number;
  unacked: number;
  readonly streams: ReadonlyMap<number, ClientStream>;
}

export class StreamWriter {
  /** Peer SETTINGS (RFC 9113 6.5.2 defaults until they arrive). */
  peerMaxFrameSize = MIN_MAX_FRAME_SIZE;
  peerInitialWindow = DEFAULT_WINDOW;
  /** What the peer lets us send on the connection. */
  sendWindow = DEFAULT_WINDOW;
  /** Streams with request bytes left, waiting for window, in the order they were opened. */
  private readonly blocked = new Set<ClientStream>();
  private readonly dirty = new Set<ClientStream>();
  private readonly fields: Array<[string, string]> = [];

  constructor(
    private readonly encoder: HpackEncoder,
    private readonly out: WriteQueue,
    private readonly authority: string,
  ) {}

  get hpack(): HpackEncoder {
    return this.encoder;
  }

  /** HEADERS for a new stream, then as much of its message as the windows allow. */
  open(s: ClientStream): void {
    const fields = this.fields;
    fields.length = 0;
    const h: OutgoingHttpHeaders = s.opts.headers;
    // RFC 9113 8.3.1: pseudo-headers first; upstream.ts lists its own first, :authority goes ahead.
    fields.push([':authority', this.authority]);
    for (const name in h) {
      const v = h[name];
      if (v !== undefined) fields.push([name, Array.isArray(v) ? v.join(', ') : String(v)]);
    }
    const block = this.encoder.encode(fields, FRAME_HEADER_BYTES);
    const blockBytes = block.length - FRAME_HEADER_BYTES;
    if (blockBytes <= this.peerMaxFrameSize) {
      writeFrameHeader(block, 0, blockBytes, FrameType.HEADERS, Flag.END_HEADERS, s.id);
      this.out.push(block);
    } else {
      const parts: Buffer[] = [];
      headerFrames(parts, s.id, block.subarray(FRAME_HEADER_BYTES), this.peerMaxFrameSize, false);
      for (const p of parts) this.out.push(p);
    }
    s.sendWindow = this.peerInitialWindow;
    this.send(s);
  }

  /** DATA frames within min(stream window, connection window, peer's max frame size). */
  private send(s: ClientStream): void {
    const frame = s.opts.frame;
    while (s.sent < frame.length) {
      const n = Math.min(frame.length - s.sent, this.peerMaxFrameSize, s.sendWindow, this.sendWindow);
      if (n <= 0) {
        this.blocked.add(s);
        return;
      }
      const last = s.sent + n === frame.length;
      const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
      writeFrameHeader(header, 0, n, FrameType.DATA, last ? Flag.END_STREAM : 0, s.id);
      this.out.push(header);
      this.out.push(frame.subarray(s.sent, s.sent + n));
      s.sent += n;
      s.sendWindow -= n;
      this.sendWindow -= n;
    }
    this.blocked.delete(s);
  }

  /** A window grew (WINDOW_UPDATE, SETTINGS_INITIAL_WINDOW_SIZE): blocked streams go on, oldest first. */
  resume(): void {
    for (const s of this.blocked) {
      if (this.sendWindow <= 0) return;
      this.send(s);
    }
  }

  forget(s: ClientStream): void {
    this.blocked.delete(s);
    this.dirty.delete(s);
  }

  /** Received DATA (padding included, RFC 9113 6.9.1) is consumed at once: count it for WINDOW_UPDATEs. */
  consumed(conn: ReceiveWindow, s: ClientStream | undefined, bytes: number): void {
    conn.unacked += bytes;
    let due = conn.unacked >= CONNECTION_UPDATE_AT;
    if (s !== undefined && !s.remoteEnded) {
      s.unacked += bytes;
      if (s.unacked >= STREAM_UPDATE_AT) {
        this.dirty.add(s);
        due = true;
      }
    }
    if (due) this.out.schedule();
  }

  /** Called before each flush: the batched WINDOW_UPDATEs. */
  flushWindowUpdates(conn: ReceiveWindow): void {
    if (conn.unacked >= CONNECTION_UPDATE_AT) {
      this.out.push(windowUpdateFrame(0, conn.unacked));
      conn.recvWindow += conn.unacked;
      conn.unacked = 0;
    }
    for (const s of this.dirty) {
      if (conn.streams.get(s.id) === s && !s.remoteEnded && s.unacked > 0) {
        this.out.push(windowUpdateFrame(s.id, s.unacked));
        s.recvWindow += s.unacked;
        s.unacked = 0;
      }
    }
    this.dirty.clear();
  }
}
