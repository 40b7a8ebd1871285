// Splits the bytes of a connection into HTTP/2 frames (RFC 9113 4.1). A frame that lies whole inside
// one socket chunk is handed on as a view of it (no copy); one split across chunks is copied once
// into a buffer of its own length. Memory is bounded by SETTINGS_MAX_FRAME_SIZE: a longer frame is a
// connection error FRAME_SIZE_ERROR (4.2) before any of its payload is buffered.
import { ConnectionError, FRAME_HEADER_BYTES, H2Error } from './frames.js';

export type FrameHandler = (type: number, flags: number, streamId: number, payload: Buffer) => void;

export class FrameReader {
  /** Header bytes of a frame split across chunks. */
  private readonly header = Buffer.alloc(FRAME_HEADER_BYTES);
  private headerFill = 0;
  /** Payload of a frame split across chunks, and how much of it has arrived. */
  private payload: Buffer | undefined;
  private payloadFill = 0;
  private type = 0;
  private flags = 0;
  private streamId = 0;

  constructor(
    /** Our SETTINGS_MAX_FRAME_SIZE: the largest payload the peer may send. */
    private readonly maxFrameSize: number,
    private readonly onFrame: FrameHandler,
  ) {}

  /** Feed one chunk; throws ConnectionError on a frame that is too long (the caller closes). */
  push(chunk: Buffer): void {
    let pos = 0;
    const end = chunk.length;
    while (pos < end) {
      if (this.payload !== undefined) {
        const n = Math.min(this.payload.length - this.payloadFill, end - pos);
        chunk.copy(this.payload, this.payloadFill, pos, pos + n);
        this.payloadFill += n;
        pos += n;
        if (this.payloadFill < this.payload.length) return;
        const p = this.payload;
        this.payload = undefined;
        this.onFrame(this.type, this.flags, this.streamId, p);
        continue;
      }
      let h: Buffer;
      let at: number;
      if (this.headerFill === 0 && end - pos >= FRAME_HEADER_BYTES) {
        h = chunk;
        at = pos;
        pos += FRAME_HEADER_BYTES;
      } else {
        const n = Math.min(FRAME_HEADER_BYTES - this.headerFill, end - pos);
        chunk.copy(this.header, this.headerFill, pos, pos + n);
        this.headerFill += n;
        pos += n;
        if (this.headerFill < FRAME_HEADER_BYTES) return;
        this.headerFill = 0;
        h = this.header;
        at = 0;
      }
      const length = (h[at]! << 16) | (h[at + 1]! << 8) | h[at + 2]!;
      const type = h[at + 3]!;
      const flags = h[at + 4]!;
      // RFC 9113 4.1: the reserved bit is ignored on receipt.
      const streamId = h.readUInt32BE(at + 5) & 0x7fffffff;
      if (length > this.maxFrameSize) {
        throw new ConnectionError(H2Error.FRAME_SIZE_ERROR, `frame of ${length} bytes exceeds SETTINGS_MAX_FRAME_SIZE ${this.maxFrameSize}`);
      }
      if (end - pos >= length) {
        const p = chunk.subarray(pos, pos + length);
        pos += length;
        this.onFrame(type, flags, streamId, p);
        continue;
      }
      this.type = type;
      this.flags = flags;
      this.streamId = streamId;
      this.payload = Buffer.allocUnsafe(length);
      this.payloadFill = 0;
    }
  }
}
