// HTTP/2 frames (RFC 9113 section 4): the 9-byte frame header, the frame types and flags this client
// speaks, the error codes (section 7), and writers for the frames a client sends. The reader is in
// frame-reader.ts.

/** RFC 9113 3.4: the client connection preface, sent before its SETTINGS. */
export const CLIENT_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export const FRAME_HEADER_BYTES = 9;

/** RFC 9113 6: frame types. Unknown types are ignored (5.5). */
export const FrameType = {
  DATA: 0x0,
  HEADERS: 0x1,
  PRIORITY: 0x2,
  RST_STREAM: 0x3,
  SETTINGS: 0x4,
  PUSH_PROMISE: 0x5,
  PING: 0x6,
  GOAWAY: 0x7,
  WINDOW_UPDATE: 0x8,
  CONTINUATION: 0x9,
} as const;

export const Flag = {
  END_STREAM: 0x1,
  ACK: 0x1,
  END_HEADERS: 0x4,
  PADDED: 0x8,
  PRIORITY: 0x20,
} as const;

/** RFC 9113 7: error codes of RST_STREAM and GOAWAY. */
export const H2Error = {
  NO_ERROR: 0x0,
  PROTOCOL_ERROR: 0x1,
  INTERNAL_ERROR: 0x2,
  FLOW_CONTROL_ERROR: 0x3,
  SETTINGS_TIMEOUT: 0x4,
  STREAM_CLOSED: 0x5,
  FRAME_SIZE_ERROR: 0x6,
  REFUSED_STREAM: 0x7,
  CANCEL: 0x8,
  COMPRESSION_ERROR: 0x9,
  CONNECT_ERROR: 0xa,
  ENHANCE_YOUR_CALM: 0xb,
  INADEQUATE_SECURITY: 0xc,
  HTTP_1_1_REQUIRED: 0xd,
} as const;

/** RFC 9113 6.5.2: SETTINGS parameters. */
export const Setting = {
  HEADER_TABLE_SIZE: 0x1,
  ENABLE_PUSH: 0x2,
  MAX_CONCURRENT_STREAMS: 0x3,
  INITIAL_WINDOW_SIZE: 0x4,
  MAX_FRAME_SIZE: 0x5,
  MAX_HEADER_LIST_SIZE: 0x6,
} as const;

/** RFC 9113 6.5.2 / 6.9.1: defaults and bounds. */
export const DEFAULT_WINDOW = 65_535;
export const MAX_WINDOW = 2 ** 31 - 1;
export const MIN_MAX_FRAME_SIZE = 16_384;
export const MAX_MAX_FRAME_SIZE = 2 ** 24 - 1;

/** A connection error (RFC 9113 5.4.1): GOAWAY with `code`, then the connection closes. */
export class ConnectionError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** A stream error (RFC 9113 5.4.2): RST_STREAM with `code`; the connection lives on. */
export class StreamError extends Error {
  constructor(
    readonly streamId: number,
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

export function writeFrameHeader(buf: Buffer, at: number, length: number, type: number, flags: number, streamId: number): void {
  buf[at] = length >>> 16;
  buf[at + 1] = (length >>> 8) & 0xff;
  buf[at + 2] = length & 0xff;
  buf[at + 3] = type;
  buf[at + 4] = flags;
  buf.writeUInt32BE(streamId & MAX_WINDOW, at + 5);
}

export function frameHeader(length: number, type: number, flags: number, streamId: number): Buffer {
  const b = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  writeFrameHeader(b, 0, length, type, flags, streamId);
  return b;
}

/** RFC 9113 6.5: SETTINGS, each parameter 6 bytes (16-bit id, 32-bit value); `[]` with ack. */
export function settingsFrame(params: ReadonlyArray<readonly [number, number]>, ack = false): Buffer {
  const b = Buffer.allocUnsafe(FRAME_HEADER_BYTES + params.length * 6);
  writeFrameHeader(b, 0, params.length * 6, FrameType.SETTINGS, ack ? Flag.ACK : 0, 0);
  params.forEach(([id, value], i) => {
    b.writeUInt16BE(id, FRAME_HEADER_BYTES + i * 6);
    b.writeUInt32BE(value, FRAME_HEADER_BYTES + i * 6 + 2);
  });
  return b;
}

/** RFC 9113 6.7: PING with 8 opaque bytes. */
export function pingFrame(payload: Buffer, ack: boolean): Buffer {
  const b = Buffer.allocUnsafe(FRAME_HEADER_BYTES + 8);
  writeFrameHeader(b, 0, 8, FrameType.PING, ack ? Flag.ACK : 0, 0);
  payload.copy(b, FRAME_HEADER_BYTES, 0, 8);
  return b;
}

/** RFC 9113 6.9: WINDOW_UPDATE; stream 0 is the connection window. */
export function windowUpdateFrame(streamId: number, increment: number): Buffer {
  const b = Buffer.allocUnsafe(FRAME_HEADER_BYTES + 4);
  writeFrameHeader(b, 0, 4, FrameType.WINDOW_UPDATE, 0, streamId);
  b.writeUInt32BE(increment, FRAME_HEADER_BYTES);
  return b;
}

/** RFC 9113 6.4: RST_STREAM. */
export function rstStreamFrame(streamId: number, code: number): Buffer {
  const b = Buffer.allocUnsafe(FRAME_HEADER_BYTES + 4);
  writeFrameHeader(b, 0, 4, FrameType.RST_STREAM, 0, streamId);
  b.writeUInt32BE(code, FRAME_HEADER_BYTES);
  return b;
}

/** RFC 9113 6.8: GOAWAY; a client never processes server-initiated streams, so last-stream-id is 0. */
export function goawayFrame(code: number, debug: string): Buffer {
  const text = Buffer.from(debug.slice(0, 256), 'utf8');
  const b = Buffer.allocUnsafe(FRAME_HEADER_BYTES + 8 + text.length);
  writeFrameHeader(b, 0, 8 + text.length, FrameType.GOAWAY, 0, 0);
  b.writeUInt32BE(0, FRAME_HEADER_BYTES);
  b.writeUInt32BE(code, FRAME_HEADER_BYTES + 4);
  text.copy(b, FRAME_HEADER_BYTES + 8);
  return b;
}

/**
 * RFC 9113 6.2 and 6.10: a header block as one HEADERS frame, or HEADERS then CONTINUATIONs when it
 * is larger than the peer's SETTINGS_MAX_FRAME_SIZE. Written into `out` (pieces, in order).
 */
export function headerFrames(out: Buffer[], streamId: number, block: Buffer, maxFrame: number, endStream: boolean): void {
  let pos = 0;
  let type: number = FrameType.HEADERS;
  do {
    const n = Math.min(maxFrame, block.length - pos);
    const last = pos + n === block.length;
    const flags = (last ? Flag.END_HEADERS : 0) | (type === FrameType.HEADERS && endStream ? Flag.END_STREAM : 0);
    const f = Buffer.allocUnsafe(FRAME_HEADER_BYTES + n);
    writeFrameHeader(f, 0, n, type, flags, streamId);
    block.copy(f, FRAME_HEADER_BYTES, pos, pos + n);
    out.push(f);
    pos += n;
    type = FrameType.CONTINUATION;
  } while (pos < block.length);
}
