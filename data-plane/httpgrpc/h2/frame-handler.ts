// What a client does with each frame the server sends (RFC 9113 section 6), and every check that turns
// a bad frame into a connection error (thrown ConnectionError) or a stream error (thrown StreamError,
// or a reset here). The connection's state lives in H2Connection; this file is the rules.
import type { CallStatus } from '../unary-call.js';
import { GrpcStatus } from '../grpc-wire.js';
import type { ClientStream } from './client-stream.js';
import { ConnectionError, Flag, FrameType, H2Error, MAX_MAX_FRAME_SIZE, MAX_WINDOW, MIN_MAX_FRAME_SIZE, Setting, StreamError, settingsFrame } from './frames.js';
import type { HpackDecoder } from './hpack-decoder.js';
import { LOCAL } from './local-settings.js';
import type { StreamWriter } from './stream-writer.js';
import type { WriteQueue } from './write-queue.js';

/** A header block split over HEADERS and CONTINUATION frames (RFC 9113 6.10), being collected. */
export interface PendingBlock {
  readonly streamId: number;
  readonly endStream: boolean;
  readonly parts: Buffer[];
  bytes: number;
}

export interface FrameContext {
  readonly streams: Map<number, ClientStream>;
  readonly nextStreamId: number;
  readonly decoder: HpackDecoder;
  readonly writer: StreamWriter;
  readonly out: WriteQueue;
  maxConcurrentStreams: number;
  gotSettings: boolean;
  recvWindow: number;
  unacked: number;
  pendingBlock: PendingBlock | undefined;
  onReady(): void;
  onGoaway(lastStreamId: number): void;
  onPing(payload: Buffer, ack: boolean): void;
  onReset(s: ClientStream, code: number): void;
  startQueued(): void;
  finish(s: ClientStream, status: CallStatus): void;
  resetStream(s: ClientStream, code: number, status: CallStatus): void;
}

const connErr = (code: number, why: string): ConnectionError => new ConnectionError(code, why);
const protocol = (why: string): ConnectionError => connErr(H2Error.PROTOCOL_ERROR, why);
const frameSize = (why: string): ConnectionError => connErr(H2Error.FRAME_SIZE_ERROR, why);
const malformed = (why: string): CallStatus => ({ code: GrpcStatus.INTERNAL, details: `malformed response: ${why}` });

/**
 * The stream a frame names, if still open. A stream id we never opened is "idle" (5.1): frames on it
 * are a connection error; a stream we closed (ended, reset) may still see frames in flight: ignored.
 */
function streamFor(c: FrameContext, id: number, type: string): ClientStream | undefined {
  if (id === 0) throw protocol(`${type} on stream 0`);
  if (id % 2 === 0 || id >= c.nextStreamId) throw protocol(`${type} on idle stream ${id}`);
  return c.streams.get(id);
}

/** Strip the Pad Length byte and padding of a PADDED frame (6.1, 6.2). */
function unpad(flags: number, payload: Buffer, type: string): Buffer {
  if ((flags & Flag.PADDED) === 0) return payload;
  if (payload.length < 1) throw frameSize(`${type} with PADDED and no pad length`);
  const pad = payload[0]!;
  if (pad >= payload.length) throw protocol(`${type} padding (${pad}) is not shorter than the payload`);
  return payload.subarray(1, payload.length - pad);
}

export function handleFrame(c: FrameContext, type: number, flags: number, id: number, payload: Buffer): void {
  // 6.10: nothing may come between HEADERS without END_HEADERS and its last CONTINUATION.
  if (c.pendingBlock !== undefined && (type !== FrameType.CONTINUATION || id !== c.pendingBlock.streamId)) {
    throw protocol(`frame type ${type} on stream ${id} inside a header block of stream ${c.pendingBlock.streamId}`);
  }
  // 3.4: the server's preface is a SETTINGS frame.
  if (!c.gotSettings && type !== FrameType.SETTINGS) throw protocol(`first frame is type ${type}, not SETTINGS`);
  switch (type) {
    case FrameType.DATA:
      return onData(c, flags, id, payload);
    case FrameType.HEADERS:
      return onHeaders(c, flags, id, payload);
    case FrameType.PRIORITY:
      // 6.3: deprecated, ignored; but still a frame of a fixed size.
      if (id === 0) throw protocol('PRIORITY on stream 0');
      if (payload.length !== 5) throw new StreamError(id, H2Error.FRAME_SIZE_ERROR, `PRIORITY of ${payload.length} bytes`);
      return;
    case FrameType.RST_STREAM: {
      if (payload.length !== 4) throw frameSize(`RST_STREAM of ${payload.length} bytes`);
      const s = streamFor(c, id, 'RST_STREAM');
      if (s !== undefined) c.onReset(s, payload.readUInt32BE(0));
      return;
    }
    case FrameType.SETTINGS:
      return onSettings(c, flags, id, payload);
    case FrameType.PUSH_PROMISE:
      // 8.4 / 6.5.2: we sent SETTINGS_ENABLE_PUSH = 0.
      throw protocol('PUSH_PROMISE with push disabled');
    case FrameType.PING:
      if (id !== 0) throw protocol('PING on a stream');
      if (payload.length !== 8) throw frameSize(`PING of ${payload.length} bytes`);
      return c.onPing(payload, (flags & Flag.ACK) !== 0);
    case FrameType.GOAWAY:
      if (id !== 0) throw protocol('GOAWAY on a stream');
      if (payload.length < 8) throw frameSize(`GOAWAY of ${payload.length} bytes`);
      return c.onGoaway(payload.readUInt32BE(0) & MAX_WINDOW);
    case FrameType.WINDOW_UPDATE:
      return onWindowUpdate(c, id, payload);
    case FrameType.CONTINUATION:
      return onContinuation(c, flags, id, payload);
    default:
      // 5.5: unknown frame types are ignored.
      return;
  }
}

function onData(c: FrameContext, flags: number, id: number, payload: Buffer): void {
  const s = streamFor(c, id, 'DATA');
  // 6.9.1: the whole frame counts against both windows, padding included.
  c.recvWindow -= payload.length;
  if (c.recvWindow < 0) throw connErr(H2Error.FLOW_CONTROL_ERROR, 'DATA beyond the connection window');
  const body = unpad(flags, payload, 'DATA');
  c.writer.consumed(c, s, payload.length);
  if (s === undefined) return; // closed by us: frames still in flight
  s.recvWindow -= payload.length;
  if (s.recvWindow < 0) return c.resetStream(s, H2Error.FLOW_CONTROL_ERROR, malformed('DATA beyond the stream window'));
  if (!s.sawHeaders) return c.resetStream(s, H2Error.PROTOCOL_ERROR, malformed('DATA before the response headers'));
  const failure = s.response.data(body);
  if (failure !== undefined) return c.resetStream(s, H2Error.CANCEL, failure);
  if ((flags & Flag.END_STREAM) !== 0) endOfStream(c, s);
}

function onHeaders(c: FrameContext, flags: number, id: number, payload: Buffer): void {
  if (id === 0) throw protocol('HEADERS on stream 0');
  let block = unpad(flags, payload, 'HEADERS');
  if ((flags & Flag.PRIORITY) !== 0) {
    if (block.length < 5) throw frameSize('HEADERS with PRIORITY shorter than 5 bytes');
    block = block.subarray(5);
  }
  const endStream = (flags & Flag.END_STREAM) !== 0;
  if ((flags & Flag.END_HEADERS) !== 0) return headerBlock(c, id, endStream, block);
  c.pendingBlock = { streamId: id, endStream, parts: [block], bytes: block.length };
}

function onContinuation(c: FrameContext, flags: number, id: number, payload: Buffer): void {
  const p = c.pendingBlock;
  if (p === undefined) throw protocol('CONTINUATION without HEADERS');
  p.parts.push(payload);
  p.bytes += payload.length;
  // A block that never ends would grow without bound: cap it at the header list limit.
  if (p.bytes > LOCAL.maxHeaderListSize) throw connErr(H2Error.ENHANCE_YOUR_CALM, `header block over ${LOCAL.maxHeaderListSize} bytes`);
  if ((flags & Flag.END_HEADERS) === 0) return;
  c.pendingBlock = undefined;
  headerBlock(c, id, p.endStream, Buffer.concat(p.parts, p.bytes));
}

function headerBlock(c: FrameContext, id: number, endStream: boolean, block: Buffer): void {
  if (id % 2 === 0 || id >= c.nextStreamId) throw protocol(`HEADERS on idle stream ${id}`);
  // RFC 7541 / 9113 4.3: decode every block, even for a closed stream, to keep the table in step.
  const list = c.decoder.decode(block);
  const s = c.streams.get(id);
  if (s === undefined) return;
  if (s.remoteEnded) return c.resetStream(s, H2Error.STREAM_CLOSED, malformed('HEADERS after END_STREAM'));
  const bad = s.headerBlock(list, endStream);
  if (bad !== undefined) return c.resetStream(s, H2Error.PROTOCOL_ERROR, malformed(bad));
  if (endStream) endOfStream(c, s);
}

/**
 * The server ended its side: the call is decided. A server may answer before reading the whole
 * request (a Trailers-Only error); RFC 9113 8.1 lets the client stop sending then: RST_STREAM NO_ERROR, as
 * grpc-java's client does (grpc/grpc-java#2163). A server's own RST_STREAM NO_ERROR after END_STREAM (8.1:
 * "clients MUST NOT discard responses" for it) finds the stream closed and is ignored.
 */
function endOfStream(c: FrameContext, s: ClientStream): void {
  s.remoteEnded = true;
  if (!s.localEnded) return c.resetStream(s, H2Error.NO_ERROR, s.ended());
  c.finish(s, s.ended());
}

function onSettings(c: FrameContext, flags: number, id: number, payload: Buffer): void {
  if (id !== 0) throw protocol('SETTINGS on a stream');
  if ((flags & Flag.ACK) !== 0) {
    if (payload.length !== 0) throw frameSize('SETTINGS ACK with a payload');
    return;
  }
  if (payload.length % 6 !== 0) throw frameSize(`SETTINGS of ${payload.length} bytes`);
  const w = c.writer;
  for (let at = 0; at < payload.length; at += 6) {
    const key = payload.readUInt16BE(at);
    const value = payload.readUInt32BE(at + 2);
    switch (key) {
      case Setting.HEADER_TABLE_SIZE:
        w.hpack.setPeerCapacity(value);
        break;
      case Setting.ENABLE_PUSH:
        // 6.5.2: a server must not send 1 (and a value other than 0 or 1 is an error anyway).
        if (value !== 0) throw protocol(`SETTINGS_ENABLE_PUSH ${value} from a server`);
        break;
      case Setting.MAX_CONCURRENT_STREAMS:
        c.maxConcurrentStreams = value;
        break;
      case Setting.INITIAL_WINDOW_SIZE: {
        if (value > MAX_WINDOW) throw connErr(H2Error.FLOW_CONTROL_ERROR, `SETTINGS_INITIAL_WINDOW_SIZE ${value}`);
        // 6.9.2: the change applies to every open stream's window, which may go negative.
        const delta = value - w.peerInitialWindow;
        w.peerInitialWindow = value;
        for (const s of c.streams.values()) {
          s.sendWindow += delta;
          if (s.sendWindow > MAX_WINDOW) throw connErr(H2Error.FLOW_CONTROL_ERROR, 'a stream window beyond 2^31-1');
        }
        break;
      }
      case Setting.MAX_FRAME_SIZE:
        if (value < MIN_MAX_FRAME_SIZE || value > MAX_MAX_FRAME_SIZE) throw protocol(`SETTINGS_MAX_FRAME_SIZE ${value}`);
        w.peerMaxFrameSize = value;
        break;
      default:
        // MAX_HEADER_LIST_SIZE is advisory (our request headers are small); unknown ones are ignored.
        break;
    }
  }
  // 6.5.3: acknowledge once applied.
  c.out.push(settingsFrame([], true));
  if (!c.gotSettings) {
    c.gotSettings = true;
    c.onReady();
  } else c.startQueued();
  w.resume();
}

function onWindowUpdate(c: FrameContext, id: number, payload: Buffer): void {
  if (payload.length !== 4) throw frameSize(`WINDOW_UPDATE of ${payload.length} bytes`);
  const inc = payload.readUInt32BE(0) & MAX_WINDOW;
  const w = c.writer;
  if (id === 0) {
    if (inc === 0) throw protocol('WINDOW_UPDATE of 0 on the connection');
    w.sendWindow += inc;
    if (w.sendWindow > MAX_WINDOW) throw connErr(H2Error.FLOW_CONTROL_ERROR, 'connection window beyond 2^31-1');
  } else {
    const s = streamFor(c, id, 'WINDOW_UPDATE');
    if (s === undefined) return;
    if (inc === 0) return c.resetStream(s, H2Error.PROTOCOL_ERROR, malformed('WINDOW_UPDATE of 0'));
    s.sendWindow += inc;
    if (s.sendWindow > MAX_WINDOW) return c.resetStream(s, H2Error.FLOW_CONTROL_ERROR, malformed('stream window beyond 2^31-1'));
  }
  w.resume();
}
