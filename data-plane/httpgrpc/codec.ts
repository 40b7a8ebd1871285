// Hand-written protobuf codec for proto/httpgrpc.proto and the google.rpc.Status that carries an
// HTTPResponse inside a gRPC error. Hand-written because this is the hot path: the request is
// encoded into ONE buffer whose body region the caller fills straight from the socket, and a response
// body is a view into the received message, never a copy (protobufjs copies both; see the report).
//
// Strings (method, url, header keys and values) are written and read as latin1: Node hands us header
// bytes as latin1 strings, so the bytes on the HTTP wire reach the backend unchanged, as a Go
// gateway (gogo/protobuf, no UTF-8 check) would send them. For ASCII this is identical to UTF-8.

export interface HttpGrpcHeader {
  readonly key: string;
  readonly values: readonly string[];
}

export interface HttpGrpcRequestMessage {
  readonly method: string;
  readonly url: string;
  readonly headers: readonly HttpGrpcHeader[];
  readonly body: Uint8Array;
}

export interface HttpGrpcResponseMessage {
  readonly code: number;
  readonly headers: readonly HttpGrpcHeader[];
  readonly body: Buffer;
}

/** `google.protobuf.Any.type_url` dskit uses for an HTTPResponse inside a Status detail. */
export const HTTP_RESPONSE_TYPE_URL = 'type.googleapis.com/httpgrpc.HTTPResponse';

const WIRE_VARINT = 0;
const WIRE_I64 = 1;
const WIRE_LEN = 2;
const WIRE_I32 = 5;

function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

function writeVarint(buf: Buffer, pos: number, n: number): number {
  while (n >= 0x80) {
    buf[pos++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 128);
  }
  buf[pos++] = n;
  return pos;
}

/** Size of a length-delimited field holding `len` bytes (one-byte tag: field numbers < 16). */
function lenFieldSize(len: number): number {
  return 1 + varintSize(len) + len;
}

function writeLatin1Field(buf: Buffer, pos: number, tag: number, s: string): number {
  buf[pos++] = tag;
  pos = writeVarint(buf, pos, s.length);
  return pos + buf.write(s, pos, 'latin1');
}

function headerSize(h: HttpGrpcHeader): number {
  let size = lenFieldSize(h.key.length);
  for (const v of h.values) size += lenFieldSize(v.length);
  return size;
}

function headersSize(headers: readonly HttpGrpcHeader[]): number {
  let size = 0;
  for (const h of headers) size += lenFieldSize(headerSize(h));
  return size;
}

function writeHeaders(buf: Buffer, pos: number, field: number, headers: readonly HttpGrpcHeader[]): number {
  const tag = (field << 3) | WIRE_LEN;
  for (const h of headers) {
    buf[pos++] = tag;
    pos = writeVarint(buf, pos, headerSize(h));
    pos = writeLatin1Field(buf, pos, 0x0a, h.key);
    for (const v of h.values) pos = writeLatin1Field(buf, pos, 0x12, v);
  }
  return pos;
}

/**
 * An encoded HTTPRequest with room for a body of `bodyLength` bytes at `bodyOffset`, not yet written:
 * the caller copies the body in as it arrives. proto3 omits empty fields. `reserve` bytes are left
 * free in front (the gRPC message prefix), so prefix, fields and body go out as one buffer.
 */
export function allocRequest(
  method: string,
  url: string,
  headers: readonly HttpGrpcHeader[],
  bodyLength: number,
  reserve = 0,
): { message: Buffer; bodyOffset: number } {
  let size = headersSize(headers);
  if (method.length > 0) size += lenFieldSize(method.length);
  if (url.length > 0) size += lenFieldSize(url.length);
  if (bodyLength > 0) size += lenFieldSize(bodyLength);
  const message = Buffer.allocUnsafe(reserve + size);
  let pos = reserve;
  if (method.length > 0) pos = writeLatin1Field(message, pos, 0x0a, method);
  if (url.length > 0) pos = writeLatin1Field(message, pos, 0x12, url);
  pos = writeHeaders(message, pos, 3, headers);
  if (bodyLength > 0) {
    message[pos++] = 0x22;
    pos = writeVarint(message, pos, bodyLength);
  }
  return { message, bodyOffset: pos };
}

export function encodeRequest(req: HttpGrpcRequestMessage): Buffer {
  const { message, bodyOffset } = allocRequest(req.method, req.url, req.headers, req.body.length);
  message.set(req.body, bodyOffset);
  return message;
}

export function encodeResponse(res: HttpGrpcResponseMessage): Buffer {
  // int32 is encoded as a 10-byte varint when negative; HTTP codes never are, so clamp at 0.
  const code = Math.max(0, res.code | 0);
  let size = headersSize(res.headers);
  if (code !== 0) size += 1 + varintSize(code);
  if (res.body.length > 0) size += lenFieldSize(res.body.length);
  const buf = Buffer.allocUnsafe(size);
  let pos = 0;
  if (code !== 0) {
    buf[pos++] = 0x08;
    pos = writeVarint(buf, pos, code);
  }
  pos = writeHeaders(buf, pos, 2, res.headers);
  if (res.body.length > 0) {
    buf[pos++] = 0x1a;
    pos = writeVarint(buf, pos, res.body.length);
    buf.set(res.body, pos);
  }
  return buf;
}

/** google.rpc.Status{code, message, details: [Any{HTTPResponse}]}: dskit's ErrorFromHTTPResponse. */
export function encodeStatusWithResponse(res: HttpGrpcResponseMessage): Buffer {
  const inner = encodeResponse(res);
  const typeUrl = Buffer.from(HTTP_RESPONSE_TYPE_URL, 'latin1');
  const anySize = lenFieldSize(typeUrl.length) + lenFieldSize(inner.length);
  const message = Buffer.from(res.body.toString('utf8'), 'utf8');
  const size = 1 + varintSize(res.code) + lenFieldSize(message.length) + lenFieldSize(anySize);
  const buf = Buffer.allocUnsafe(size);
  let pos = 0;
  buf[pos++] = 0x08;
  pos = writeVarint(buf, pos, res.code);
  buf[pos++] = 0x12;
  pos = writeVarint(buf, pos, message.length);
  buf.set(message, pos);
  pos += message.length;
  buf[pos++] = 0x1a;
  pos = writeVarint(buf, pos, anySize);
  buf[pos++] = 0x0a;
  pos = writeVarint(buf, pos, typeUrl.length);
  buf.set(typeUrl, pos);
  pos += typeUrl.length;
  buf[pos++] = 0x12;
  pos = writeVarint(buf, pos, inner.length);
  buf.set(inner, pos);
  return buf;
}

/** Thrown for bytes that are not a valid encoding of the expected message. */
export class DecodeError extends Error {
  override name = 'DecodeError';
}

class Reader {
  pos: number;
  constructor(
    readonly buf: Buffer,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }

  varint(): number {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new DecodeError('truncated varint');
      const b = this.buf[this.pos++]!;
      // Above 2^53 precision is lost; only lengths, tags and int32 codes are read as numbers here.
      result += (b & 0x7f) * mul;
      if (b < 0x80) return result;
      mul *= 128;
    }
    throw new DecodeError('varint longer than 10 bytes');
  }

  /** Start and end of the next length-delimited value. */
  span(): [number, number] {
    const len = this.varint();
    const start = this.pos;
    const end = start + len;
    if (end > this.end) throw new DecodeError('length-delimited field runs past the message');
    this.pos = end;
    return [start, end];
  }

  latin1(): string {
    const [start, end] = this.span();
    return this.buf.toString('latin1', start, end);
  }

  skip(wireType: number): void {
    switch (wireType) {
      case WIRE_VARINT:
        this.varint();
        return;
      case WIRE_I64:
        this.pos += 8;
        break;
      case WIRE_LEN:
        this.span();
        return;
      case WIRE_I32:
        this.pos += 4;
        break;
      default:
        throw new DecodeError(`unsupported wire type ${wireType}`);
    }
    if (this.pos > this.end) throw new DecodeError('fixed-size field runs past the message');
  }
}

function decodeHeader(buf: Buffer, start: number, end: number): HttpGrpcHeader {
  const r = new Reader(buf, start, end);
  let key = '';
  const values: string[] = [];
  while (r.pos < end) {
    const tag = r.varint();
    if (tag === 0x0a) key = r.latin1();
    else if (tag === 0x12) values.push(r.latin1());
    else r.skip(tag & 7);
  }
  return { key, values };
}

/** The body is a view into `buf`, not a copy. */
export function decodeRequest(buf: Buffer): HttpGrpcRequestMessage & { readonly body: Buffer } {
  const r = new Reader(buf, 0, buf.length);
  let method = '';
  let url = '';
  const headers: HttpGrpcHeader[] = [];
  let body: Buffer = Buffer.alloc(0);
  while (r.pos < r.end) {
    const tag = r.varint();
    if (tag === 0x0a) method = r.latin1();
    else if (tag === 0x12) url = r.latin1();
    else if (tag === 0x1a) headers.push(decodeHeader(buf, ...r.span()));
    else if (tag === 0x22) body = buf.subarray(...r.span());
    else r.skip(tag & 7);
  }
  return { method, url, headers, body };
}

export function decodeResponse(buf: Buffer, start = 0, end = buf.length): HttpGrpcResponseMessage {
  const r = new Reader(buf, start, end);
  let code = 0;
  const headers: HttpGrpcHeader[] = [];
  let body: Buffer = Buffer.alloc(0);
  while (r.pos < r.end) {
    const tag = r.varint();
    if (tag === 0x08) code = r.varint() | 0; // int32: keep the low 32 bits, as protobuf does
    else if (tag === 0x12) headers.push(decodeHeader(buf, ...r.span()));
    else if (tag === 0x1a) body = buf.subarray(...r.span());
    else r.skip(tag & 7);
  }
  return { code, headers, body };
}

/**
 * The HTTPResponse inside a `grpc-status-details-bin` google.rpc.Status, as dskit's
 * HTTPResponseFromError reads it: exactly one detail, an Any of type httpgrpc.HTTPResponse.
 * Undefined when the status carries anything else.
 */
export function decodeStatusResponse(buf: Buffer): HttpGrpcResponseMessage | undefined {
  const r = new Reader(buf, 0, buf.length);
  const details: Array<[number, number]> = [];
  while (r.pos < r.end) {
    const tag = r.varint();
    if (tag === 0x1a) details.push(r.span());
    else r.skip(tag & 7);
  }
  if (details.length !== 1) return undefined;
  const [anyStart, anyEnd] = details[0]!;
  const a = new Reader(buf, anyStart, anyEnd);
  let typeUrl = '';
  let value: [number, number] | undefined;
  while (a.pos < a.end) {
    const tag = a.varint();
    if (tag === 0x0a) typeUrl = a.latin1();
    else if (tag === 0x12) value = a.span();
    else a.skip(tag & 7);
  }
  if (typeUrl !== HTTP_RESPONSE_TYPE_URL) return undefined;
  return value ? decodeResponse(buf, value[0], value[1]) : { code: 0, headers: [], body: Buffer.alloc(0) };
}
